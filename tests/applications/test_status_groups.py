"""One home per rule: the status groups beside the workflow, the grappe's region, the submit
conditions (submit and resubmit check the same)."""

from __future__ import annotations

import datetime

import pytest

from applications import workflow
from applications.dossiers.services import complement_answer
from applications.instruction.services import complement_request
from applications.selectors import calls_open_for_grappe
from applications.workflow import (
    EDITABLE,
    FUNDED,
    PAST_DRAFT,
    RECORDS,
    TRANSITIONS,
    Action,
    GuardFailed,
    Status,
    transition,
)
from essms_portal.accounts.models import Role
from funding import services as funding_services
from funding.rules import majority_region
from funding.services import quote_for
from grappes import permissions as grappe_permissions
from grappes.models import Departement, Region
from grappes.selectors import grappes_open_to_join
from tests.applications.helpers import ars, submitted_dossier
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    GrappeFactory,
    GrappeMembershipFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
)

# --------------------------------------------------------------------------------------------
# Status groups: the layers that may not import applications keep mirrors equal to the source.
# --------------------------------------------------------------------------------------------


def test_the_grappes_mirror_of_past_draft_is_the_workflow_group():
    assert grappe_permissions.DOSSIER_PAST_DRAFT == PAST_DRAFT


def test_the_funding_mirror_of_funded_is_the_workflow_group():
    assert funding_services.FUNDED_STATUSES == FUNDED


def test_the_groups_say_what_the_transition_table_says():
    everything_but_drafts = set(Status) - {Status.DRAFT}
    assert everything_but_drafts == PAST_DRAFT
    # Decided, not notified yet: exactly the statuses the decision's notification leaves.
    left_by_notify = {s for (s, a) in TRANSITIONS if a == Action.NOTIFY}
    assert left_by_notify == workflow.AWAITING_NOTIFICATION
    # Reached by a decision, then notified.
    decisions = (Action.ACCEPT, Action.REJECT)
    decided = {to for (_s, a), (to, _r) in TRANSITIONS.items() if a in decisions}
    assert decided | {Status.NOTIFIED} == workflow.DECIDED
    assert RECORDS[Action.ASSIGN][0] == workflow.OPEN_FOR_INSTRUCTION
    # The applicant edits where they may act themselves (submit, or answer complements).
    applicant_moves = {s for (s, a) in TRANSITIONS if a in (Action.SUBMIT, Action.RESUBMIT)}
    assert applicant_moves == EDITABLE
    assert workflow.ordered(workflow.DECIDED) == ["accepted", "rejected", "notified"]


@pytest.mark.django_db
def test_a_withdrawn_dossier_freezes_its_grappe_and_closes_it_to_join_requests():
    """Both questions the grappes layer asks about its dossiers use the same group."""
    application, porteur = submitted_dossier()
    transition(application=application, action=Action.WITHDRAW, by=porteur)
    outsider = UserFactory()
    assert grappe_permissions.grappe_is_locked(application.grappe)
    assert application.grappe not in grappes_open_to_join(user=outsider)
    draft = ApplicationFactory(grappe=GrappeFactory())
    assert not grappe_permissions.grappe_is_locked(draft.grappe)
    assert draft.grappe in grappes_open_to_join(user=outsider)


# --------------------------------------------------------------------------------------------
# Which region a grappe belongs to: one rule (funding.rules.majority_region), asked twice.
# --------------------------------------------------------------------------------------------


def test_majority_region_ties_go_to_the_region_met_first():
    assert majority_region(["84", "11", "11", "84"]) == "84"
    assert majority_region(["11", "84", "84"]) == "84"
    assert majority_region([None, "93", None]) == "93"
    assert majority_region([None]) is None


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "second"), [("69", "75"), ("75", "69")])
def test_the_quote_and_the_call_choice_agree_on_a_tie(first, second):
    """Two ESSMS in each region: the region of the ESSMS added first wins, for both."""
    grappe = GrappeFactory()
    for code in (first, second, second, first):
        GrappeMembershipFactory(
            grappe=grappe,
            structure=StructureFactory(
                organisation=grappe.porteur, departement=Departement.objects.get(code=code)
            ),
        )
    expected = Departement.objects.get(code=first).region_id
    for region in ("11", "84"):
        CallFactory(region=Region.objects.get(code=region))
    regional = calls_open_for_grappe(grappe=grappe).filter(scope="regional")
    assert [call.region_id for call in regional] == [expected]
    application = ApplicationFactory(grappe=grappe, call=regional.get())
    assert quote_for(application=application).grappe_region == expected


# --------------------------------------------------------------------------------------------
# The submit conditions: one guard for the first deposit and the answer to complements.
# --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_draft_without_its_required_attachments_is_not_submitted():
    application = ApplicationFactory()
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    with pytest.raises(GuardFailed, match="Pièces manquantes : la convention de grappe signée"):
        transition(application=application, action=Action.SUBMIT, by=porteur)
    assert workflow.missing_attachments(application=application) == [
        "la convention de grappe signée",
        "au moins un devis",
    ]


@pytest.mark.django_db
def test_a_resubmission_with_a_required_attachment_missing_is_refused():
    """Resubmitting needs what submitting needs: here the quote (devis) went missing."""
    application, porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    request = complement_request(
        application=application,
        by=instructeur,
        message="Devis illisible",
        expected_items="Devis",
        deadline=datetime.date(2099, 1, 1),
    )
    application.attachments.filter(kind="quote").delete()
    with pytest.raises(GuardFailed, match="Pièces manquantes : au moins un devis"):
        complement_answer(request=request, by=porteur, answer="Voici.")
    application.refresh_from_db()
    assert application.status == Status.COMPLEMENT_REQUESTED
    request.refresh_from_db()
    assert request.answered_at is None
