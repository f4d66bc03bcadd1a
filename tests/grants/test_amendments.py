"""Amendments (avenants, issue #15 item 7): an ESSMS leaving or joining after the decision; the
lines recomputed with the quote's engine, four eyes, a number and a letter, the payment schedule
updated (a titre de recette for a leaver, a bigger second tranche for a joiner) and the
settlement reconciled. Each refusal is an attack that changes nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from applications.decisions.letters import fingerprint_display
from essms_portal.accounts.models import Role
from funding.settlement import compute_settlement
from grants.amendments import amendment_cancel, amendment_draft, amendment_validate
from grants.documents import amendment_pdf
from grants.models import Amendment, Convention, FollowUpParameters, GrantLog, PaymentOrder
from grants.selectors import grant_effective_snapshot, grant_schedule
from grants.services import GrantError, GrantNotAllowed, convention_countersign
from grants.settlement import second_tranche_settle, settlement_request_for
from grappes.models import Departement
from tests.applications.helpers import ars
from tests.dbstate import assert_unchanged, db_state
from tests.factories import GrappeMembershipFactory, StructureFactory
from tests.grants.test_conventions import Grant
from tests.grants.test_documents import pdf_text
from tests.grants.test_second_tranche import measure

pytestmark = pytest.mark.django_db

REASON = "Sortie de l'EHPAD du projet au 1er mars."


@pytest.fixture
def countersigned(private_storage: Any) -> tuple[Grant, Convention]:
    grant = Grant()
    convention = grant.signed()
    convention_countersign(convention=convention, by=grant.valideur)
    convention.refresh_from_db()
    return grant, convention


def leave(grant: Grant, convention: Convention) -> dict[str, Any]:
    """The first ESSMS of the grappe leaves it; returns its convention line."""
    membership = grant.application.grappe.memberships.order_by("structure__finess").first()
    assert membership is not None
    line = next(
        line
        for line in convention.snapshot["lines"]
        if line["finess"] == membership.structure.finess
    )
    membership.delete()
    return line


def join(grant: Grant) -> str:
    """A new ESSMS of the porteur joins the grappe; returns its FINESS."""
    grappe = grant.application.grappe
    membership = GrappeMembershipFactory(
        grappe=grappe,
        structure=StructureFactory(
            organisation=grappe.porteur, departement=Departement.objects.get(code="75")
        ),
    )
    return membership.structure.finess


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --------------------------------------------------------------------------------------------
# Leaver, joiner
# --------------------------------------------------------------------------------------------


def test_a_leaver_lowers_the_total_recovers_and_the_settlement_reconciles(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    total = int(convention.snapshot["total"])
    line = leave(grant, convention)
    left = int(line["amount"])
    assert left > 0

    amendment = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    assert (amendment.number, amendment.status) == ("AVN-2023-11-0001", "drafted")
    snapshot = amendment.snapshot
    assert (snapshot["before"]["total"], snapshot["total"]) == (total, total - left)
    assert [lf["finess"] for lf in snapshot["left"]] == [line["finess"]]
    assert snapshot["joined"] == []
    assert line["finess"] not in {lf["finess"] for lf in snapshot["lines"]}
    assert snapshot["tranches"][0]["amount"] == (total - left) // 2
    recovery = total // 2 - (total - left) // 2
    assert snapshot["schedule"]["recovery"] == recovery
    # Drafted only: nothing is in force yet, no order.
    assert grant_effective_snapshot(convention=convention) == convention.snapshot
    assert not PaymentOrder.objects.filter(kind="recovery").exists()

    amendment = amendment_validate(amendment=amendment, by=grant.valideur)
    assert (amendment.status, amendment.validated_by) == ("validated", grant.valideur)
    order = PaymentOrder.objects.get(kind="recovery")
    assert (order.number, int(order.amount)) == ("TR-2023-11-0001", recovery)
    assert "AVN-2023-11-0001" in order.reasons[0]
    assert grant_effective_snapshot(convention=convention) == amendment.snapshot

    schedule = grant_schedule(application=grant.application)
    assert (schedule.total, schedule.first_tranche) == (total - left, (total - left) // 2)
    assert schedule.recovered == recovery
    assert schedule.remaining == (total - left) - (total - left) // 2

    events = list(
        GrantLog.objects.filter(application=grant.application).values_list("event", flat=True)
    )
    assert events[-3:] == ["amendment_drafted", "amendment_validated", "order_issued:recovery"]

    # Settlement: every remaining ESSMS meets its targets → the rest of the new total.
    measure(grant, meeting=14)
    result = compute_settlement(settlement_request_for(convention=convention))
    assert result.paid + result.second_tranche - result.recovery == result.due
    assert result.due == total - left
    assert result.recovery == 0
    second = second_tranche_settle(convention=convention, by=grant.valideur)
    assert second is not None and second.kind == "second"
    assert int(second.amount) == (total - left) - (total - left) // 2


def test_a_leaver_keeps_its_share_when_the_campaign_does_not_recover(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        recover_leavers=False
    )
    total = int(convention.snapshot["total"])
    left = int(leave(grant, convention)["amount"])
    amendment = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    assert amendment.snapshot["schedule"]["recovery"] == 0
    amendment_validate(amendment=amendment, by=grant.valideur)
    assert not PaymentOrder.objects.filter(kind="recovery").exists()

    measure(grant, meeting=14)
    result = compute_settlement(settlement_request_for(convention=convention))
    # The leaver's share of the first tranche stays acquired, the rest is due as amended.
    assert result.due == (total - left) + left * 50 // 100
    assert result.paid + result.second_tranche - result.recovery == result.due
    assert result.departed_count == 1


def test_a_joiner_raises_the_total_and_the_second_tranche(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    total = int(convention.snapshot["total"])
    finess = join(grant)

    amendment = amendment_draft(convention=convention, by=grant.valideur, reason="Entrée")
    joined = amendment.snapshot["joined"]
    assert [line["finess"] for line in joined] == [finess]
    extra = joined[0]["amount"]
    assert extra > 0  # the engine's forfait for the new ESSMS
    assert amendment.snapshot["total"] == total + extra
    assert amendment.snapshot["schedule"]["recovery"] == 0

    second_valideur = ars(Role.ARS_VALIDEUR)
    amendment_validate(amendment=amendment, by=second_valideur)
    assert not PaymentOrder.objects.filter(kind="recovery").exists()
    schedule = grant_schedule(application=grant.application)
    assert schedule.total == total + extra
    assert schedule.remaining == total + extra - total // 2  # the rest grows

    measure(grant, meeting=16)
    order = second_tranche_settle(convention=convention, by=grant.valideur)
    assert order is not None and order.kind == "second"
    assert int(order.amount) == total + extra - total // 2


def test_amendments_follow_one_another(countersigned: tuple[Grant, Convention]) -> None:
    """One amendment under preparation at a time; a cancelled one frees the place, the next one
    starts from the lines in force."""
    grant, convention = countersigned
    leave(grant, convention)
    first = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    before = db_state()
    with pytest.raises(GrantError, match="déjà en préparation"):
        amendment_draft(convention=convention, by=grant.valideur, reason=REASON)
    assert_unchanged(before)

    amendment_cancel(amendment=first, by=grant.instructeur)
    first.refresh_from_db()
    assert first.status == "cancelled"
    second = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    assert second.number == "AVN-2023-11-0002"
    amendment_validate(amendment=second, by=grant.valideur)

    # Nothing changed since the amendment in force: refused.
    before = db_state()
    with pytest.raises(GrantError, match="ne changerait rien"):
        amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    assert_unchanged(before)

    join(grant)
    third = amendment_draft(convention=convention, by=grant.instructeur, reason="Entrée")
    assert third.snapshot["before"]["number"] == second.number
    assert third.snapshot["before"]["total"] == second.snapshot["total"]


# --------------------------------------------------------------------------------------------
# Attacks: nothing changes
# --------------------------------------------------------------------------------------------


def test_four_eyes_the_drafter_never_validates(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    leave(grant, convention)
    amendment = amendment_draft(convention=convention, by=grant.valideur, reason=REASON)
    before = db_state()
    for refused in (grant.valideur, grant.instructeur):  # the drafter; not a decider
        with pytest.raises(GrantNotAllowed):
            amendment_validate(amendment=amendment, by=refused)
    assert_unchanged(before)


def test_outsiders_cannot_draft_validate_or_cancel(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    leave(grant, convention)
    amendment = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    before = db_state()
    for outsider in (grant.other_region, grant.cnsa, grant.porteur, grant.stranger):
        with pytest.raises(GrantNotAllowed):
            amendment_draft(convention=convention, by=outsider, reason=REASON)
        with pytest.raises(GrantNotAllowed):
            amendment_validate(amendment=amendment, by=outsider)
        with pytest.raises(GrantNotAllowed):
            amendment_cancel(amendment=amendment, by=outsider)
    # Only the drafter cancels.
    with pytest.raises(GrantNotAllowed):
        amendment_cancel(amendment=amendment, by=grant.valideur)
    assert_unchanged(before)


def test_refused_before_the_countersignature_and_after_the_settlement(
    private_storage: Any,
) -> None:
    grant = Grant()
    convention = grant.signed()
    leave(grant, convention)
    before = db_state()
    with pytest.raises(GrantError, match="pas encore contresignée"):
        amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    assert_unchanged(before)

    convention_countersign(convention=convention, by=grant.valideur)
    measure(grant, meeting=14)
    second_tranche_settle(convention=convention, by=grant.valideur)
    before = db_state()
    with pytest.raises(GrantError, match="seconde tranche est déjà calculée"):
        amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    assert_unchanged(before)


def test_a_reason_is_required(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    leave(grant, convention)
    before = db_state()
    for reason in ("", "   ", "x" * 2001):
        with pytest.raises(GrantError) as refused:
            amendment_draft(convention=convention, by=grant.instructeur, reason=reason)
        assert refused.value.field == "reason"
    assert_unchanged(before)


def test_validation_refused_when_the_orders_changed_since_drafting(
    countersigned: tuple[Grant, Convention],
) -> None:
    """The letter states the recovery: if the policy changed meanwhile, it would lie."""
    grant, convention = countersigned
    leave(grant, convention)
    amendment = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        recover_leavers=False
    )
    before = db_state()
    with pytest.raises(GrantError, match="ont changé"):
        amendment_validate(amendment=amendment, by=grant.valideur)
    assert_unchanged(before)


# --------------------------------------------------------------------------------------------
# Letter and screens
# --------------------------------------------------------------------------------------------


def test_the_amendment_letter_is_deterministic_and_tagged(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    line = leave(grant, convention)
    amendment = amendment_draft(convention=convention, by=grant.instructeur, reason=REASON)
    data = amendment_pdf(amendment.snapshot)
    assert data.startswith(b"%PDF-")
    assert amendment_pdf(amendment.snapshot) == data
    text = pdf_text(data)
    assert f"Avenant n° {amendment.number}" in text
    assert convention.number in text
    assert line["finess"] in text and REASON in text
    assert "titre de recette" in text
    assert fingerprint_display(amendment.snapshot_sha256) in text
    root = PdfReader(io.BytesIO(data)).trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "fr"


def test_the_screens(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    pk = grant.application.pk
    page = reverse("grants:grant", args=[pk])
    instructeur = client_for(grant.instructeur)
    assert "Préparer un avenant" in instructeur.get(page).content.decode()

    # Nothing changed in the grappe: refused with a message, nothing created.
    response = instructeur.post(reverse("grants:amendment_draft", args=[pk]), {"reason": "x"})
    assert response.status_code == 302 and not Amendment.objects.exists()
    # No reason: the form comes back with the error next to the field.
    response = instructeur.post(reverse("grants:amendment_draft", args=[pk]), {"reason": ""})
    assert response.status_code == 400 and not Amendment.objects.exists()

    leave(grant, convention)
    response = instructeur.post(reverse("grants:amendment_draft", args=[pk]), {"reason": REASON})
    assert response.status_code == 302
    amendment = Amendment.objects.get()
    assert "Valider l'avenant" not in instructeur.get(page).content.decode()
    valideur_page = client_for(grant.valideur).get(page).content.decode()
    assert "Valider l'avenant" in valideur_page
    pdf_url = reverse("grants:amendment_pdf", args=[pk, amendment.pk])
    assert pdf_url in valideur_page

    # The porteur sees a validated amendment only.
    porteur = client_for(grant.porteur)
    assert porteur.get(pdf_url).status_code == 404
    response = client_for(grant.valideur).post(
        reverse("grants:amendment_validate", args=[pk, amendment.pk])
    )
    assert response.status_code == 302
    amendment.refresh_from_db()
    assert amendment.status == "validated"
    response = porteur.get(pdf_url)
    assert response.status_code == 200 and response.content == amendment_pdf(amendment.snapshot)
    espace = porteur.get(reverse("grants:espace_grant", args=[pk])).content.decode()
    assert pdf_url in espace and amendment.number in espace
