"""A CNSA agent in real Chromium: filters decisions, launches a batch export, watches the
progress bar reach 100 %, downloads the ZIP. The first page of a letter is kept as a PNG."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from applications.decisions import tasks as decision_tasks
from applications.decisions.services import decision_export_build, decision_issue
from applications.models import DecisionExport
from tests.applications.helpers import cnsa_agent, decided_dossier
from tests.browser.helpers import enter_totp, serious_violations
from tests.factories import TEST_TOTP_SECRET

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("private_storage"),
]

PASSWORD = "Un-mot-de-passe-solide-2023"


def test_cnsa_agent_exports_a_batch_of_decisions(
    live_server, page, artifacts_dir, tmp_path, monkeypatch
):
    agent = cnsa_agent()
    paris = [decision_issue(application=decided_dossier(), by=agent) for _ in range(3)]
    lyon = decision_issue(application=decided_dossier(region="84"), by=agent)
    agent.set_password(PASSWORD)
    agent.save()
    EmailAddress.objects.create(user=agent, email=agent.email, verified=True, primary=True)
    # The task is queued but not run, so the page starts at 0 % and the test decides when the
    # batch runs: the progress bar then reaches 100 % through the page's own polling.
    queued: list[int] = []
    monkeypatch.setattr(
        decision_tasks.build_decision_export,
        "apply_async",
        lambda args=(), kwargs=None, **options: queued.append(args[0]),
    )

    base = live_server.url
    page.goto(f"{base}/comptes/login/?next=/instruction/decisions/")
    page.fill("input[name=login]", agent.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Connexion|Se connecter|Sign In", re.I)).click()
    enter_totp(page, TEST_TOTP_SECRET)  # agents are enrolled in MFA by the factory
    expect(page.get_by_role("heading", name="Décisions émises", level=1)).to_be_visible()
    expect(page.get_by_text(lyon.number)).to_be_visible()

    page.select_option("select[name=region]", "11")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text(lyon.number)).to_have_count(0)
    for decision in paris:
        expect(page.get_by_text(decision.number)).to_be_visible()
    page.screenshot(path=artifacts_dir / "decisions-01-list.png", full_page=True)
    assert serious_violations(page) == []

    page.get_by_role("button", name=re.compile("Exporter les 3 décisions")).click()
    expect(page.get_by_role("heading", name=re.compile("Export de décisions"))).to_be_visible()
    job = DecisionExport.objects.get()
    assert queued == [job.pk]
    bar = page.locator("#export-bar")
    expect(bar).to_have_attribute("value", "0")
    assert serious_violations(page) == []

    decision_export_build(job_id=job.pk)
    expect(bar).to_have_attribute("value", "100", timeout=15_000)
    expect(page.locator("#export-text")).to_contain_text("3 / 3")
    page.screenshot(path=artifacts_dir / "decisions-02-export-done.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger l'archive ZIP").click()
    path = tmp_path / "decisions.zip"
    download_info.value.save_as(path)
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    assert sorted(archive.namelist()) == sorted(
        [f"{d.number}.pdf" for d in paris] + ["manifeste.csv"]
    )

    first = min(paris, key=lambda d: d.number)
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(archive.read(f"{first.number}.pdf"))
    target = artifacts_dir / "decision-letter-page1"
    command = ["/usr/bin/pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run([*command, str(letter), str(target)], check=True)
    assert (artifacts_dir / "decision-letter-page1.png").stat().st_size > 10_000

    # The dashboard and the public verification page pass the same accessibility checks.
    page.goto(f"{base}/instruction/tableau-de-bord/")
    expect(page.locator("svg.portal-chart")).to_have_count(2)
    page.screenshot(path=artifacts_dir / "decisions-03-dashboard.png", full_page=True)
    assert serious_violations(page) == []
    page.context.clear_cookies()
    page.goto(f"{base}/verifier/")
    page.get_by_label("Numéro de la décision").fill(first.number)
    page.get_by_label("Code de vérification").fill(first.snapshot["verification_code"].lower())
    page.get_by_role("button", name="Vérifier", exact=True).click()
    expect(page.get_by_text(first.beneficiary).first).to_be_visible()
    page.set_input_files("input[name=document]", str(letter))
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.get_by_role("heading", name="Document authentique")).to_be_visible()
    page.screenshot(path=artifacts_dir / "decisions-04-verify.png", full_page=True)
    assert serious_violations(page) == []
