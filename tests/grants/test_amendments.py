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
from grappes.models import Departement, GrappeMembership
from grappes.permissions import grappe_is_locked
from grappes.services import (
    MembershipJoin,
    NotAllowed,
    ServiceError,
    grappe_membership_remove,
    grappe_memberships_amend,
)
from tests.applications.helpers import ars
from tests.dbstate import assert_unchanged, db_state
from tests.factories import GrappeMembershipFactory, OrganisationFactory, StructureFactory
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

    # Nothing changed in the grappe: refused next to the « leaving » field, nothing created.
    response = instructeur.post(reverse("grants:amendment_draft", args=[pk]), {"reason": "x"})
    assert response.status_code == 400 and not Amendment.objects.exists()
    assert "ne changerait rien" in " ".join(response.context["amendment_form"].errors["leaving"])
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


# --------------------------------------------------------------------------------------------
# The amendment carries the change of a locked grappe
# --------------------------------------------------------------------------------------------


def finess_of_grappe(grant: Grant) -> list[str]:
    return sorted(grant.application.grappe.memberships.values_list("structure__finess", flat=True))


def outsider_structure(grant: Grant, **overrides: Any) -> Any:
    """An open ESSMS of the porteur, not in the grappe."""
    values: dict[str, Any] = {
        "organisation": grant.application.grappe.porteur,
        "departement": Departement.objects.get(code="75"),
    }
    values.update(overrides)
    return StructureFactory(**values)


def test_leaving_is_applied_to_the_grappe_at_validation_only(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    members = finess_of_grappe(grant)
    assert grappe_is_locked(grant.application.grappe)
    leaver = members[0]
    line = next(line for line in convention.snapshot["lines"] if line["finess"] == leaver)
    total = int(convention.snapshot["total"])

    amendment = amendment_draft(
        convention=convention, by=grant.instructeur, reason=REASON, leaving=[f" {leaver} "]
    )
    snapshot = amendment.snapshot
    assert (snapshot["leaving"], snapshot["joining"]) == ([leaver], [])
    assert snapshot["grappe_before"] == members
    assert [lf["finess"] for lf in snapshot["left"]] == [leaver]
    assert snapshot["total"] == total - int(line["amount"])
    assert finess_of_grappe(grant) == members  # drafted only: the grappe has not changed

    amendment_validate(amendment=amendment, by=grant.valideur)
    assert finess_of_grappe(grant) == members[1:]
    assert PaymentOrder.objects.filter(kind="recovery").count() == 1
    # Still frozen for everything else.
    assert grappe_is_locked(grant.application.grappe)


def test_joining_is_applied_to_the_grappe_at_validation_only(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    members = finess_of_grappe(grant)
    total = int(convention.snapshot["total"])
    newcomer = outsider_structure(grant)

    amendment = amendment_draft(
        convention=convention,
        by=grant.instructeur,
        reason="Entrée",
        joining=[newcomer.finess.lower()],
    )
    snapshot = amendment.snapshot
    assert snapshot["leaving"] == []
    assert [j["finess"] for j in snapshot["joining"]] == [newcomer.finess]
    assert snapshot["joining"][0]["project_type"] == "acquisition"
    [joined] = snapshot["joined"]
    assert joined["finess"] == newcomer.finess and joined["amount"] > 0
    assert snapshot["total"] == total + joined["amount"]
    assert finess_of_grappe(grant) == members

    amendment_validate(amendment=amendment, by=grant.valideur)
    assert finess_of_grappe(grant) == sorted([*members, newcomer.finess])
    membership = GrappeMembership.objects.get(grappe=grant.application.grappe, structure=newcomer)
    assert membership.project_type == "acquisition"
    assert membership.solution_id == snapshot["joining"][0]["solution_id"] is not None
    schedule = grant_schedule(application=grant.application)
    assert schedule.total == total + joined["amount"]


def test_leaving_and_joining_in_one_amendment(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    members = finess_of_grappe(grant)
    newcomer = outsider_structure(grant)
    amendment = amendment_draft(
        convention=convention,
        by=grant.instructeur,
        reason="Remplacement",
        leaving=members[:2],
        joining=[newcomer.finess],
    )
    assert amendment.snapshot["leaving"] == members[:2]
    amendment_validate(amendment=amendment, by=grant.valideur)
    assert finess_of_grappe(grant) == sorted([*members[2:], newcomer.finess])
    assert grant_effective_snapshot(convention=convention) == amendment.snapshot


def test_bad_changes_are_refused_next_to_their_field(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    members = finess_of_grappe(grant)
    not_a_line = outsider_structure(grant)
    closed = outsider_structure(grant, closed=True)
    elsewhere = outsider_structure(grant, organisation=OrganisationFactory())
    unknown = outsider_structure(grant)
    unknown_finess = unknown.finess
    unknown.delete()
    before = db_state()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"leaving": [not_a_line.finess]}, "leaving", "pas une ligne en vigueur"),
        ({"leaving": ["123"]}, "leaving", "pas une ligne en vigueur"),
        ({"joining": [unknown_finess]}, "joining", "aucun ESSMS ne porte ce numéro"),
        ({"joining": ["12345"]}, "joining", "12345"),
        ({"joining": [members[3]]}, "joining", "fait déjà partie de la grappe"),
        ({"joining": [closed.finess]}, "joining", "est fermé"),
        ({"joining": [elsewhere.finess]}, "joining", "ne fait pas partie de la grappe"),
        (
            {"leaving": [members[0]], "joining": [members[0]]},
            "joining",
            "à la fois quitter et rejoindre",
        ),
        ({}, "leaving", "ne changerait rien"),
    ]
    for changes, field, message in cases:
        with pytest.raises(GrantError, match=message) as refused:
            amendment_draft(convention=convention, by=grant.instructeur, reason=REASON, **changes)
        assert refused.value.field == field, changes
    assert_unchanged(before)


def test_validation_refused_when_the_grappe_changed_since_drafting(
    countersigned: tuple[Grant, Convention],
) -> None:
    """The letter states amounts computed on the grappe as it was: a change out of band (the
    admin) since the drafting makes it false."""
    grant, convention = countersigned
    members = finess_of_grappe(grant)
    amendment = amendment_draft(
        convention=convention, by=grant.instructeur, reason=REASON, leaving=[members[0]]
    )
    GrappeMembership.objects.filter(
        grappe=grant.application.grappe, structure__finess=members[1]
    ).delete()
    before = db_state()
    with pytest.raises(GrantError, match="ESSMS de la grappe ont changé"):
        amendment_validate(amendment=amendment, by=grant.valideur)
    assert_unchanged(before)


def test_the_grappe_service_is_for_validated_amendments_only(
    countersigned: tuple[Grant, Convention],
) -> None:
    """``grappe_memberships_amend`` refuses anyone but a decider, a grappe still open (its
    ordinary services apply) and bad FINESS numbers, all or nothing; the ordinary services still
    refuse a locked grappe. (Outside a transaction it raises RuntimeError: a test runs inside
    one.)"""
    grant, _convention = countersigned
    grappe = grant.application.grappe
    members = finess_of_grappe(grant)
    open_grappe = GrappeMembershipFactory().grappe
    stranger = outsider_structure(grant, organisation=OrganisationFactory())
    before = db_state()
    with pytest.raises(NotAllowed):
        grappe_memberships_amend(
            grappe=grappe, leaving=[members[0]], joining=[], by=grant.instructeur
        )
    with pytest.raises(ServiceError, match="pas déposé"):
        grappe_memberships_amend(grappe=open_grappe, leaving=[], joining=[], by=grant.valideur)
    refusals = [
        ([stranger.finess], [], "leaving"),
        ([members[0]], [MembershipJoin(finess=members[1])], "joining"),
        ([members[0]], [MembershipJoin(finess=stranger.finess)], "joining"),
        ([], [MembershipJoin(finess="999999999")], "joining"),
    ]
    for leaving, joining, field in refusals:
        with pytest.raises(ServiceError) as refused:
            grappe_memberships_amend(
                grappe=grappe, leaving=leaving, joining=joining, by=grant.valideur
            )
        assert refused.value.field == field
    membership = grappe.memberships.first()
    assert membership is not None
    with pytest.raises(ServiceError, match="déposé"):
        grappe_membership_remove(membership=membership, by=grant.porteur)
    assert_unchanged(before)


def test_the_form_over_http(countersigned: tuple[Grant, Convention]) -> None:
    grant, _convention = countersigned
    pk = grant.application.pk
    members = finess_of_grappe(grant)
    instructeur = client_for(grant.instructeur)
    page = instructeur.get(reverse("grants:grant", args=[pk])).content.decode()
    assert "ESSMS qui quittent le projet" in page and "ESSMS qui rejoignent le projet" in page
    assert f'value="{members[0]}"' in page  # a checkbox per line in force
    url = reverse("grants:amendment_draft", args=[pk])

    before = db_state()
    response = instructeur.post(url, {"reason": REASON, "joining": f"{members[1]}, 12345"})
    assert response.status_code == 400
    errors = response.context["amendment_form"].errors
    assert list(errors) == ["joining"] and "12345" in errors["joining"][0]
    assert errors["joining"][0] in response.content.decode()
    response = instructeur.post(url, {"reason": REASON, "leaving": ["999999999"]})
    assert response.status_code == 400
    assert list(response.context["amendment_form"].errors) == ["leaving"]  # not a choice
    assert_unchanged(before)

    newcomer = outsider_structure(grant)
    response = instructeur.post(
        url,
        {
            "reason": REASON,
            "leaving": [members[0], members[1]],
            "joining": f"\n{newcomer.finess}\n",
        },
    )
    assert response.status_code == 302
    amendment = Amendment.objects.get()
    assert amendment.snapshot["leaving"] == members[:2]
    assert [j["finess"] for j in amendment.snapshot["joining"]] == [newcomer.finess]
    assert finess_of_grappe(grant) == members
    response = client_for(grant.valideur).post(
        reverse("grants:amendment_validate", args=[pk, amendment.pk])
    )
    assert response.status_code == 302
    assert finess_of_grappe(grant) == sorted([*members[2:], newcomer.finess])
