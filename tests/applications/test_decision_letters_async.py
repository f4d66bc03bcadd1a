"""Issue #13 and #14: the letter is rendered after commit from the frozen snapshot (broker down:
the sweep renders it; the same bytes whichever process renders it), every reader copes with a
letter still being generated, the pending page is paginated, issuing is confirmed and CNSA
agents issue several accepted decisions at once; the letter itself (bloc-marque, signatory
with delegation, funding source, reduction reasons, one fingerprint, tagged PDF)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from applications.decisions import services as decisions
from applications.decisions.letters import fingerprint_display, letter_pdf
from applications.decisions.services import (
    decision_export_build,
    decision_issue,
    decision_letter_render,
    decisions_issue_many,
)
from applications.models import (
    Application,
    Campaign,
    Decision,
    DecisionCounter,
    DecisionExport,
    ProposedAmount,
    Signatory,
)
from applications.workflow import Status
from essms_portal.accounts.models import Role
from essms_portal.celery import app
from essms_portal.outbox import enqueue
from essms_portal.tasks import ping, sweep
from tests.applications.helpers import (
    ars,
    cnsa_agent,
    decided_dossier,
    issue_and_render,
    pdf_text,
    roomy_call,
)
from tests.conftest import drain
from tests.dbstate import assert_unchanged, db_state
from tests.factories import ApplicationFactory, grappe_with_structures

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]

REDUCTION_REASON = "Deux unités de l'établissement sont déjà équipées d'un DUI conforme."


def _named_signatory() -> Signatory:
    """The Île-de-France signatory as an administrator fills it in: a person, by delegation."""
    Signatory.objects.filter(region_id="11").update(
        name="Dominique Martin", title="Directrice de l'autonomie", city="Saint-Denis"
    )
    return Signatory.objects.get(region_id="11")


def _reduced_dossier() -> tuple[Application, ProposedAmount]:
    """An accepted dossier whose first ESSMS line was reduced by the instructeur, with reason."""
    application = decided_dossier()
    row = (
        ProposedAmount.objects.filter(application=application, line__startswith="structure:")
        .order_by("line")
        .first()
    )
    assert row is not None
    ProposedAmount.objects.filter(pk=row.pk).update(
        proposed=int(row.computed) - 5_000, reason=REDUCTION_REASON
    )
    row.refresh_from_db()
    return application, row


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _stored(decision: Decision) -> bytes:
    with default_storage.open(decision.pdf.name, "rb") as handle:
        return handle.read()


# --------------------------------------------------------------------------------------------
# Issuing without the letter; the letter after commit
# --------------------------------------------------------------------------------------------


def test_issuing_commits_the_decision_with_its_letter_pending_and_queues_the_render(
    django_capture_on_commit_callbacks,
):
    application = decided_dossier()
    with django_capture_on_commit_callbacks() as callbacks:
        decision = decision_issue(application=application, by=cnsa_agent())

    stored = Decision.objects.get(pk=decision.pk)
    assert (stored.letter_status, stored.pdf.name, stored.pdf_sha256) == ("pending", "", "")
    assert stored.snapshot_sha256 and stored.verification_code
    assert Application.objects.get(pk=application.pk).status == Status.NOTIFIED
    # The render is published after commit (eager here): it runs then, not inside the issue.
    for callback in callbacks:
        callback()
    stored.refresh_from_db()
    assert stored.letter_status == "ready" and stored.letter_rendered_at is not None
    assert hashlib.sha256(_stored(stored)).hexdigest() == stored.pdf_sha256


@pytest.fixture
def broker_down(settings, monkeypatch):
    """Celery publishing to a port where nothing listens, as when Redis is down."""
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    down = "redis://127.0.0.1:9/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = down
    # Celery reads the broker from the environment first, before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", down)
    app.conf.task_always_eager = False
    app.conf.broker_url = down
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = previous
        app._pool = None
        app.amqp._producer_pool = None


def test_with_the_broker_down_the_issue_succeeds_and_the_sweep_produces_the_letter(
    django_capture_on_commit_callbacks, broker_down, monkeypatch
):
    application = decided_dossier()
    assert not enqueue(ping)  # the broker is really down for the application
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decision = decision_issue(application=application, by=cnsa_agent())
    assert callbacks  # the render was due after commit: its publish failed, without raising
    decision.refresh_from_db()
    assert decision.letter_status == "pending"
    assert DecisionCounter.objects.get(region_key="11").last_sequence == 1

    # A minute later (older_than 0 here), the broker back: the sweep queues the render again.
    app.conf.task_always_eager = True
    monkeypatch.undo()
    done = sweep(older_than_seconds=0)
    assert done["decision_letters"] == 1
    decision.refresh_from_db()
    assert decision.letter_status == "ready"
    assert hashlib.sha256(_stored(decision)).hexdigest() == decision.pdf_sha256
    # Nothing left to do: a second sweep queues no letter.
    assert sweep(older_than_seconds=0)["decision_letters"] == 0


def test_the_sweep_leaves_a_fresh_pending_letter_to_its_own_task(
    django_capture_on_commit_callbacks,
):
    decision = decision_issue(application=decided_dossier(), by=cnsa_agent())  # not committed
    assert sweep(older_than_seconds=3600)["decision_letters"] == 0
    assert Decision.objects.get(pk=decision.pk).letter_status == "pending"


def test_rendering_twice_records_one_letter_and_leaves_one_file(private_storage):
    decision = decision_issue(application=decided_dossier(), by=cnsa_agent())
    first = decision_letter_render(decision_id=decision.pk)
    again = decision_letter_render(decision_id=decision.pk)
    assert first is not None and again is not None
    assert (again.pdf.name, again.pdf_sha256) == (first.pdf.name, first.pdf_sha256)
    assert [p.name for p in Path(private_storage).rglob("*.pdf")] == [f"{decision.number}.pdf"]
    assert decision_letter_render(decision_id=10**9) is None


def test_a_file_left_by_a_worker_that_died_before_recording_it_is_reused(private_storage):
    decision = decision_issue(application=decided_dossier(), by=cnsa_agent())
    name = decisions.decision_letter_name(decision=decision)
    default_storage.save(name, io.BytesIO(letter_pdf(decision.snapshot)))
    rendered = decision_letter_render(decision_id=decision.pk)
    assert rendered is not None and rendered.pdf.name == name
    assert len(list(Path(private_storage).rglob("*.pdf"))) == 1


def test_the_letter_bytes_are_the_same_whichever_process_renders_them(tmp_path):
    """Two fresh interpreters (as two workers) and this process render identical bytes."""
    decision = issue_and_render(application=_reduced_dossier()[0], by=cnsa_agent())
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_text(json.dumps(decision.snapshot), encoding="utf-8")
    script = (
        "import django, hashlib, json, sys; django.setup(); "
        "from applications.decisions.letters import letter_pdf; "
        "s = json.load(open(sys.argv[1], encoding='utf-8')); "
        "print(hashlib.sha256(letter_pdf(s)).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script, str(snapshot_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    }
    digests.add(hashlib.sha256(letter_pdf(decision.snapshot)).hexdigest())
    assert digests == {decision.pdf_sha256}


# --------------------------------------------------------------------------------------------
# Readers of a letter still being generated
# --------------------------------------------------------------------------------------------


def test_downloading_a_letter_being_generated_says_so_in_french(client):
    application = decided_dossier()
    decision = decision_issue(application=application, by=cnsa_agent())
    porteur = application.grappe.porteur.members.get().user
    client.force_login(porteur)
    response = client.get(reverse("decisions:pdf", kwargs={"number": decision.number}))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "La lettre de décision est en cours de génération" in response.content.decode()
    decision_letter_render(decision_id=decision.pk)
    response = client.get(reverse("decisions:pdf", kwargs={"number": decision.number}))
    assert response["Content-Type"] == "application/pdf"
    assert hashlib.sha256(drain(response)).hexdigest() == Decision.objects.get().pdf_sha256


def test_the_verification_page_of_a_letter_being_generated_shows_the_fingerprint(client):
    decision = decision_issue(application=decided_dossier(), by=cnsa_agent())
    url = reverse("decisions:verify")
    query = {"numero": decision.number, "code": decision.verification_code}
    response = client.get(url, query)
    page = response.content.decode()
    assert response.status_code == 200
    assert fingerprint_display(decision.snapshot_sha256) in page
    assert "Lettre en cours de génération" in page
    assert 'type="file"' not in page
    # An upload meanwhile is not judged (no "non conforme" for a letter not yet rendered).
    response = client.post(url, {**query, "document": io.BytesIO(b"%PDF-1.7")})
    assert response.status_code == 200
    assert "non conforme" not in response.content.decode()


def test_the_export_renders_a_letter_still_pending_and_lists_it(private_storage):
    agent = cnsa_agent()
    decision = decision_issue(application=decided_dossier(), by=agent)
    job = DecisionExport.objects.create(requested_by=agent, total=1)
    job.decisions.add(decision)
    decision_export_build(job_id=job.pk)
    job.refresh_from_db()
    decision.refresh_from_db()
    assert job.status == DecisionExport.Status.DONE
    assert decision.letter_status == "ready"
    with default_storage.open(job.archive.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    data = archive.read(f"{decision.number}.pdf")
    assert hashlib.sha256(data).hexdigest() == decision.pdf_sha256


# --------------------------------------------------------------------------------------------
# The letter
# --------------------------------------------------------------------------------------------


@pytest.fixture
def letter(client):
    """An accepted Île-de-France decision with a reduced line, signed by delegation; its PDF
    bytes and the verification page's HTML."""
    _named_signatory()
    application, reduced = _reduced_dossier()
    decision = issue_and_render(application=application, by=cnsa_agent())
    page = client.get(
        reverse("decisions:verify"),
        {"numero": decision.number, "code": decision.verification_code},
    ).content.decode()
    return decision, _stored(decision), page, reduced


def test_the_letter_has_the_bloc_marque_the_signatory_by_delegation_and_the_funding(letter):
    _decision, data, _page, _reduced = letter
    text = pdf_text(data)
    flat = " ".join(text.split())
    assert "RÉPUBLIQUE FRANÇAISE" in flat.upper()
    assert "Liberté Égalité Fraternité" in flat
    assert "Agence régionale de santé Île-de-France" in flat
    assert (
        "Pour le directeur général de l'agence régionale de santé Île-de-France et par "
        "délégation" in flat
    )
    assert "Directrice de l'autonomie" in flat
    assert "Dominique Martin" in flat
    assert "Signé" in flat
    # The signature block says each thing once.
    assert flat.count("Dominique Martin") == 1
    assert flat.count("par délégation") == 1
    assert "Fonds d'intervention régional (FIR) — programme ESMS numérique" in flat
    assert "(Île-de-France) (Île-de-France)" not in flat
    assert "Île-de-France (Île-de-France)" not in flat


def test_the_letter_gives_the_reason_of_a_reduction(letter):
    decision, data, _page, reduced = letter
    flat = " ".join(pdf_text(data).split())
    assert REDUCTION_REASON in flat
    line = next(li for li in decision.snapshot["lines"] if li["reason"])
    assert (line["computed"], line["amount"]) == (int(reduced.computed), int(reduced.proposed))


def test_the_letter_and_the_verification_page_show_one_and_the_same_fingerprint(letter):
    decision, data, page, _reduced = letter
    fingerprint = fingerprint_display(decision.snapshot_sha256)
    assert fingerprint in " ".join(pdf_text(data).split())
    assert f"<code>{fingerprint}</code>" in page
    assert "Empreinte des données de la décision" in page
    assert "Empreinte des données de la décision" in " ".join(pdf_text(data).split())
    # The PDF's own hash is never shown: no second fingerprint to compare.
    assert decision.pdf_sha256 not in page
    assert decision.pdf_sha256 not in pdf_text(data).replace("\n", "")
    # pdftotext (poppler) reads the same fingerprint.
    poppler = subprocess.run(
        ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert fingerprint in " ".join(poppler.split())
    assert "Dominique Martin" in poppler
    assert REDUCTION_REASON in " ".join(poppler.split())


def test_the_letter_pdf_is_tagged(letter):
    _decision, data, _page, _reduced = letter
    root = PdfReader(io.BytesIO(data)).trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "fr"


def test_screenshot_of_the_letter(letter, tmp_path):
    """pdftoppm renders every page: as many images as pages, none blank; the first page is
    kept for a human look (``LETTER_SCREENSHOT_DIR``)."""
    decision, data, _page, _reduced = letter
    pages = len(PdfReader(io.BytesIO(data)).pages)
    assert 2 <= pages <= 5
    pdf = tmp_path / "lettre.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages
    for image_path in images:
        with Image.open(image_path) as image:
            grey = image.convert("L")
            low, high = grey.getextrema()
            assert high == 255 and low < 64, image_path  # white paper with dark text
            inked = sum(grey.histogram()[:128])  # pixels darker than mid-grey
            assert inked > 100, image_path
    import os

    keep = os.environ.get("LETTER_SCREENSHOT_DIR")
    if keep:
        for image_path in images:
            (Path(keep) / f"{decision.number}-{image_path.name}").write_bytes(
                image_path.read_bytes()
            )


def test_an_old_snapshot_without_the_new_keys_still_renders():
    decision = issue_and_render(application=decided_dossier(), by=cnsa_agent())
    old = json.loads(json.dumps(decision.snapshot))
    old["format"] = 1
    old.pop("funding_source")
    old["authority"]["signatory"].pop("delegation")
    for line in old["lines"]:
        line.pop("computed"), line.pop("reason")
    for support in old["supports"]:
        support.pop("computed"), support.pop("reason")
    text = " ".join(pdf_text(letter_pdf(old)).split())
    assert old["number"] in text
    assert "par délégation" not in text
    assert "imputée" not in text


def test_the_funding_source_is_the_campaigns():
    application = decided_dossier()
    Campaign.objects.filter(pk=application.call.campaign_id).update(
        funding_source="FIR — mission 2 — ligne 12"
    )
    decision = decision_issue(application=application, by=cnsa_agent())
    assert decision.snapshot["funding_source"] == "FIR — mission 2 — ligne 12"


# --------------------------------------------------------------------------------------------
# Pending page, confirmation, bulk issue
# --------------------------------------------------------------------------------------------


def _accepted_rows(count: int) -> list[Application]:
    """Accepted dossiers awaiting their decision, for a read-only page (status set directly:
    the page only lists them)."""
    call = roomy_call()
    rows = [ApplicationFactory(grappe=grappe_with_structures(1), call=call) for _ in range(count)]
    Application.objects.filter(pk__in=[a.pk for a in rows]).update(
        status=Status.ACCEPTED, submitted_at=timezone.now(), decided_at=timezone.now()
    )
    return rows


@pytest.mark.parametrize("count", [3, 60])
def test_the_pending_page_is_paginated_with_a_fixed_number_of_queries(
    client, django_assert_num_queries, count
):
    _accepted_rows(count)
    client.force_login(cnsa_agent())
    client.get(reverse("decisions:pending"))  # warm the session
    # Session, user, MFA check, savepoint and its release (the request's atomic block), the
    # count, one page of rows (select_related): flat in the number of rows.
    with django_assert_num_queries(7):
        response = client.get(reverse("decisions:pending"))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('name="dossiers"') == min(count, 50)
    assert f"{count} dossiers en attente de décision" in page
    if count > 50:
        assert "page=2" in page
        second = client.get(reverse("decisions:pending"), {"page": 2}).content.decode()
        assert second.count('name="dossiers"') == count - 50


def test_issuing_one_decision_goes_through_a_confirmation_page(client):
    application = decided_dossier()
    client.force_login(cnsa_agent())
    pending = client.get(reverse("decisions:pending")).content.decode()
    confirm_url = reverse("decisions:issue_confirm", kwargs={"pk": application.pk})
    assert confirm_url in pending
    assert f'action="{reverse("decisions:issue", kwargs={"pk": application.pk})}"' not in pending
    page = client.get(confirm_url).content.decode()
    assert "L'émission est définitive" in page
    assert not Decision.objects.exists()  # showing the confirmation issues nothing
    response = client.post(reverse("decisions:issue", kwargs={"pk": application.pk}))
    decision = Decision.objects.get()
    assert _messages(response) == [
        ("success", f"Décision n° {decision.number} émise et notifiée au porteur.")
    ]


def test_cnsa_issues_several_accepted_decisions_after_confirming(client):
    first, second = decided_dossier(), decided_dossier()
    rejected = decided_dossier("reject")
    client.force_login(cnsa_agent())
    url = reverse("decisions:issue_bulk")
    selection = {"dossiers": [first.pk, second.pk, rejected.pk]}

    page = client.post(url, selection).content.decode()
    assert "Confirmer l'émission de 2 décisions" in page  # rejections are issued one by one
    assert not Decision.objects.exists()

    response = client.post(url, {**selection, "confirm": "1"})
    assert response.status_code == 302
    numbers = sorted(Decision.objects.values_list("number", flat=True))
    assert numbers == ["2023-11-0001", "2023-11-0002"]
    assert Application.objects.get(pk=rejected.pk).status == Status.REJECTED
    assert _messages(response) == [
        ("success", f"2 décisions émises et notifiées : {', '.join(numbers)}."),
        (
            "error",
            f"1 décision non émise (dossier n° {rejected.pk} : dossier introuvable, non "
            "accepté ou dont la décision est déjà émise).",
        ),
    ]


def test_one_failure_in_a_bulk_issue_does_not_undo_the_others(monkeypatch):
    call = roomy_call()
    first, broken, third = (decided_dossier(call=call) for _ in range(3))
    real = decisions.decision_issue

    def failing(*, application, by, comment=""):
        if application.pk == broken.pk:
            raise decisions.DecisionError("panne simulée")
        return real(application=application, by=by, comment=comment)

    monkeypatch.setattr(decisions, "decision_issue", failing)
    result = decisions_issue_many(application_ids=[first.pk, broken.pk, third.pk], by=cnsa_agent())
    assert [d.application_id for d in result.issued] == [first.pk, third.pk]
    assert result.failed == [(broken.pk, "panne simulée")]
    assert Application.objects.get(pk=broken.pk).status == Status.ACCEPTED
    assert [d.number for d in result.issued] == ["2023-11-0001", "2023-11-0002"]


@pytest.mark.parametrize(
    "role", [Role.ARS_VALIDEUR, Role.ARS_INSTRUCTEUR, Role.ADMINISTRATOR, "gestionnaire"]
)
def test_a_non_cnsa_actor_posting_the_bulk_form_changes_nothing(client, role):
    dossiers = [decided_dossier(), decided_dossier()]
    porteur = dossiers[0].grappe.porteur.members.get().user
    actor = porteur if role == "gestionnaire" else ars(role)
    client.force_login(actor)
    before = db_state()
    for body in (
        {"dossiers": [d.pk for d in dossiers]},
        {"dossiers": [d.pk for d in dossiers], "confirm": "1"},
    ):
        response = client.post(reverse("decisions:issue_bulk"), body)
        assert response.status_code == 403
    assert_unchanged(before)
    with pytest.raises(decisions.DecisionError):
        decisions_issue_many(application_ids=[d.pk for d in dossiers], by=actor)
    assert_unchanged(before)


def test_the_bulk_service_refuses_a_dossier_out_of_the_agents_reach(client):
    """A forged selection with an unknown id or a dossier already decided is reported."""
    application = decided_dossier()
    agent = cnsa_agent()
    issue_and_render(application=application, by=agent)
    result = decisions_issue_many(application_ids=[application.pk, 10**9], by=agent)
    assert result.issued == []
    assert [pk for pk, _reason in result.failed] == [application.pk, 10**9]
    assert Decision.objects.count() == 1
    assert re.search(r"déjà émise", result.failed[0][1])
