"""Issuing decisions: numbering, frozen snapshot, PDF letter, immutability, verification page.

The decision builders shared with the other tests live in ``tests.applications.helpers``.
"""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.decisions.letters import fingerprint_display, letter_pdf, snapshot_fingerprint
from applications.decisions.services import (
    DecisionError,
    applications_awaiting_decision,
    decision_issue,
    decision_number_format,
    decision_region_key,
    decisions_visible_to,
)
from applications.models import Application, Call, Decision, DecisionCounter, Signatory
from applications.workflow import Action, Status, TransitionNotAllowed, transition
from essms_portal.accounts.models import Role, User
from grappes.models import Region
from tests.applications.helpers import (
    BIG_ENVELOPE,
    ars,
    cnsa_agent,
    decided_dossier,
    issue_and_render,
    pdf_text,
    score_and_propose_amounts,
    submitted_dossier,
)
from tests.conftest import drain
from tests.factories import (
    CallFactory,
    UserFactory,
)


def euros(amount: int) -> str:
    return f"{amount:,}".replace(",", " ") + " €"


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]


# --------------------------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------------------------


def test_issuing_an_accepted_dossier_numbers_freezes_and_notifies(
    mailoutbox, django_capture_on_commit_callbacks
):
    application = decided_dossier()
    agent = cnsa_agent()

    with django_capture_on_commit_callbacks(execute=True):
        decision = decision_issue(application=application, by=agent)

    assert decision.number == "2023-11-0001"
    assert decision.outcome == Decision.Outcome.ACCEPTED
    assert decision.beneficiary == application.grappe.porteur.name
    assert Application.objects.get(pk=application.pk).status == Status.NOTIFIED
    assert application.log_entries.order_by("-id").first().action == Action.NOTIFY
    lines = decision.snapshot["lines"]
    assert len(lines) == 15
    assert {line["amount"] for line in lines} == {25_000}
    assert decision.total == 15 * 25_000 + sum(s["amount"] for s in decision.snapshot["supports"])
    first, second = decision.snapshot["tranches"]
    assert first["amount"] + second["amount"] == decision.total
    assert decision.snapshot_sha256 == snapshot_fingerprint(decision.snapshot)
    code = decision.snapshot["verification_code"]
    assert decision.snapshot["verification_url"].endswith(
        f"/verifier/?numero=2023-11-0001&code={code}"
    )
    assert code.replace("-", "") == decision.verification_code
    signatory = Signatory.objects.get(region_id="11")
    assert decision.signatory_name == signatory.name
    assert decision.snapshot["authority"]["name"] == "Agence régionale de santé Île-de-France"
    # The applicants are told after commit (the notify transition's e-mail).
    assert any("Décision notifiée" in message.subject for message in mailoutbox)


def test_numbers_follow_each_other_per_campaign_and_region():
    agent = cnsa_agent()
    numbers = [
        decision_issue(application=decided_dossier(), by=agent).number,
        decision_issue(application=decided_dossier(), by=agent).number,
        decision_issue(application=decided_dossier(region="84"), by=agent).number,
    ]
    assert numbers == ["2023-11-0001", "2023-11-0002", "2023-84-0001"]
    assert DecisionCounter.objects.get(region_key="11").last_sequence == 2


def test_national_calls_use_region_key_00():
    national = Call(scope=Call.Scope.NATIONAL, region=None)
    assert decision_region_key(call=national) == "00"
    assert decision_number_format(year=2023, region_key="00", sequence=42) == "2023-00-0042"
    assert decision_number_format(year=2024, region_key="11", sequence=12345) == "2024-11-12345"


def test_a_national_decision_is_signed_by_the_cnsa():
    call = CallFactory(scope=Call.Scope.NATIONAL, region=None, envelope=BIG_ENVELOPE)
    application, _porteur = submitted_dossier(count=50, call=call)
    instructeur, valideur = cnsa_agent(), cnsa_agent()
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    score_and_propose_amounts(application, instructeur)
    transition(application=application, action=Action.PROPOSE, by=instructeur)
    transition(application=application, action=Action.ACCEPT, by=valideur)

    decision = decision_issue(application=application, by=valideur)

    assert decision.number == "2023-00-0001"
    assert decision.snapshot["authority"]["scope"] == "national"
    assert "solidarité pour l'autonomie" in decision.snapshot["authority"]["name"]


def test_only_cnsa_agents_issue_and_a_failed_issue_leaves_no_trace():
    application = decided_dossier()
    with pytest.raises(TransitionNotAllowed):
        decision_issue(application=application, by=ars(Role.ARS_VALIDEUR))
    assert not Decision.objects.exists()
    assert not DecisionCounter.objects.filter(last_sequence__gt=0).exists()
    assert Application.objects.get(pk=application.pk).status == Status.ACCEPTED
    # A number given back by the rollback is used by the next successful issue: no gap.
    assert decision_issue(application=application, by=cnsa_agent()).number == "2023-11-0001"


def test_a_decision_cannot_be_issued_twice():
    application = decided_dossier()
    agent = cnsa_agent()
    decision_issue(application=application, by=agent)
    with pytest.raises(TransitionNotAllowed):
        decision_issue(application=application, by=agent)
    assert Decision.objects.count() == 1


def test_rejection_letter_has_the_motivation_and_no_amount():
    application = decided_dossier("reject")
    decision = issue_and_render(application=application, by=cnsa_agent())
    assert decision.outcome == Decision.Outcome.REJECTED
    assert decision.total == 0
    assert decision.snapshot["tranches"] == []
    with default_storage.open(decision.pdf.name, "rb") as handle:
        text = pdf_text(handle.read())
    assert "Décision de refus de financement" in text
    assert "Gouvernance de la grappe insuffisante." in text
    assert "Montant total de la subvention" not in text


def test_an_issued_decision_is_immutable_and_ignores_later_grappe_edits():
    application = decided_dossier()
    decision = issue_and_render(application=application, by=cnsa_agent())
    snapshot, pdf_hash = decision.snapshot, decision.pdf_sha256
    membership = application.grappe.memberships.select_related("structure").first()
    membership.structure.name = "Nom modifié après la décision"
    membership.structure.save()
    application.grappe.name = "Grappe renommée"
    application.grappe.save()

    stored = Decision.objects.get(pk=decision.pk)
    assert stored.snapshot == snapshot
    assert stored.pdf_sha256 == pdf_hash
    assert "Grappe renommée" not in str(stored.snapshot)
    with pytest.raises(ValueError, match="ne peut pas être modifiée"):
        stored.save()
    with pytest.raises(ValueError, match="ne peut pas être supprimée"):
        stored.delete()


def test_default_signatories_exist_for_every_region_and_the_cnsa():
    assert Signatory.objects.filter(scope="national").count() == 1
    assert Signatory.objects.filter(scope="regional").count() == Region.objects.count()


def test_editing_a_signatory_changes_later_decisions_only():
    agent = cnsa_agent()
    first = decision_issue(application=decided_dossier(), by=agent)
    Signatory.objects.filter(region_id="11").update(name="Mme Dominique Martin", city="Paris")
    second = decision_issue(application=decided_dossier(), by=agent)
    assert first.signatory_name != "Mme Dominique Martin"
    assert second.signatory_name == "Mme Dominique Martin"
    assert second.snapshot["authority"]["signatory"]["city"] == "Paris"


# --------------------------------------------------------------------------------------------
# The PDF letter
# --------------------------------------------------------------------------------------------


def test_the_pdf_shows_number_beneficiary_every_finess_and_the_amounts():
    application = decided_dossier()
    decision = issue_and_render(application=application, by=cnsa_agent())
    with default_storage.open(decision.pdf.name, "rb") as handle:
        data = handle.read()

    assert hashlib.sha256(data).hexdigest() == decision.pdf_sha256
    text = pdf_text(data)
    assert decision.number in text
    assert application.grappe.porteur.name in text
    for line in decision.snapshot["lines"]:
        assert line["finess"] in text
    assert euros(25_000) in text
    assert euros(int(decision.total)) in text
    for tranche in decision.snapshot["tranches"]:
        assert euros(tranche["amount"]) in text
    assert "L312-1" in text
    assert "DGCS/DNS/CNSA/2023/13" in text
    assert fingerprint_display(decision.snapshot_sha256) in text.replace("\n", " ")
    assert decision.snapshot["verification_url"] in text.replace("\n", "")
    assert re.search(r"Page 1 sur \d", text)


def test_rendering_the_same_snapshot_twice_gives_the_same_document():
    decision = issue_and_render(application=decided_dossier(), by=cnsa_agent())
    first, second = letter_pdf(decision.snapshot), letter_pdf(decision.snapshot)
    assert pdf_text(first) == pdf_text(second)
    assert hashlib.sha256(first).hexdigest() == decision.pdf_sha256


# --------------------------------------------------------------------------------------------
# Views: PDF download, pending list, issuing, public verification
# --------------------------------------------------------------------------------------------


def test_the_porteur_and_the_region_download_the_pdf_other_regions_do_not(client):
    application = decided_dossier()
    decision = issue_and_render(application=application, by=cnsa_agent())
    url = reverse("decisions:pdf", kwargs={"number": decision.number})
    porteur = User.objects.get(organisation_memberships__organisation=application.grappe.porteur)
    for user, expected in (
        (porteur, 200),
        (ars(Role.ARS_INSTRUCTEUR), 200),
        (ars(Role.ARS_INSTRUCTEUR, "84"), 404),
        (UserFactory(), 404),
    ):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == expected, user
        if expected == 200:
            assert hashlib.sha256(drain(response)).hexdigest() == decision.pdf_sha256
    assert decisions_visible_to(user=porteur).count() == 1


def test_a_cnsa_agent_issues_from_the_pending_page(client):
    application = decided_dossier()
    agent = cnsa_agent()
    client.force_login(agent)
    page = client.get(reverse("decisions:pending"))
    assert page.status_code == 200
    assert f"n° {application.pk}" in page.content.decode()
    response = client.post(reverse("decisions:issue", kwargs={"pk": application.pk}))
    assert response.status_code == 302
    assert Decision.objects.get().application_id == application.pk
    assert not applications_awaiting_decision(user=agent).exists()


def test_an_ars_valideur_cannot_issue(client):
    application = decided_dossier()
    client.force_login(ars(Role.ARS_VALIDEUR))
    response = client.post(reverse("decisions:issue", kwargs={"pk": application.pk}))
    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_public_verification_accepts_the_issued_pdf_and_rejects_a_modified_one(client):
    decision = issue_and_render(application=decided_dossier(), by=cnsa_agent())
    with default_storage.open(decision.pdf.name, "rb") as handle:
        data = handle.read()
    url = reverse("decisions:verify")
    pair = {"numero": decision.number, "code": decision.snapshot["verification_code"]}

    page = client.get(url, pair).content.decode()
    assert fingerprint_display(decision.snapshot_sha256) in page
    assert decision.pdf_sha256 not in page  # one fingerprint shown: the letter's
    assert decision.beneficiary in page
    assert "Nombre d'ESSMS" not in page and decision.snapshot["lines"][0]["finess"] not in page

    genuine = client.post(url, {**pair, "document": SimpleUploadedFile("d.pdf", data)})
    assert "Document authentique" in genuine.content.decode()

    middle = len(data) // 2
    tampered = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
    forged = client.post(url, {**pair, "document": SimpleUploadedFile("d.pdf", tampered)})
    assert "Document non conforme" in forged.content.decode()


def test_verification_of_an_unknown_number_says_so_with_a_404(client):
    response = client.get(reverse("decisions:verify"), {"numero": "2023-11-9999", "code": "0" * 10})
    assert response.status_code == 404
    assert "Aucune décision ne correspond à ce numéro et à ce code" in response.content.decode()


def test_verification_refuses_files_over_20_mb(client):
    decision = issue_and_render(application=decided_dossier(), by=cnsa_agent())
    url = reverse("decisions:verify")
    big = SimpleUploadedFile("gros.pdf", b"%PDF" + b"0" * (20 * 1024 * 1024 + 1))
    pair = {"numero": decision.number, "code": decision.verification_code}
    response = client.post(url, {**pair, "document": big})
    # Just over 20 Mo: under the early Content-Length cut (413), refused by the form.
    assert response.status_code == 400
    assert "20 Mo" in response.content.decode()


def test_decision_admin_is_read_only(admin_client):
    decision = issue_and_render(application=decided_dossier(), by=cnsa_agent())
    change = reverse("admin:applications_decision_change", args=[decision.pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.post(change, {"number": "X"}).status_code == 403
    delete = reverse("admin:applications_decision_delete", args=[decision.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Decision.objects.get(pk=decision.pk).number == decision.number
    signatory = Signatory.objects.get(region_id="11")
    signatory_url = reverse("admin:applications_signatory_change", args=[signatory.pk])
    assert admin_client.get(signatory_url).status_code == 200


def test_decision_error_carries_its_message():
    assert DecisionError("Rien à exporter").message == "Rien à exporter"


def test_an_export_rewrites_a_stale_entry_left_in_its_work_directory():
    """Letters differ by their random verification code: a work directory left by another run
    under the same job id must not slip a foreign PDF into the ZIP."""
    import zipfile

    from applications.decisions.services import decision_export_build, export_workdir
    from applications.models import DecisionExport

    agent = cnsa_agent()
    decision = issue_and_render(application=decided_dossier(), by=agent)
    job = DecisionExport.objects.create(requested_by=agent, total=1)
    job.decisions.add(decision)
    workdir = export_workdir(job.pk)
    workdir.mkdir(parents=True)
    (workdir / f"{decision.number}.pdf").write_bytes(b"%PDF-1.4 another letter")

    decision_export_build(job_id=job.pk)

    job.refresh_from_db()
    with default_storage.open(job.archive.name, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    entry = archive.read(f"{decision.number}.pdf")
    assert hashlib.sha256(entry).hexdigest() == decision.pdf_sha256
