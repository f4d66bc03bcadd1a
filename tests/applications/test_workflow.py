"""The transition service: allowed and refused transitions, guards, versions, the log chain."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from applications.models import Application, WorkflowLog
from applications.workflow import (
    GENESIS_HASH,
    Action,
    GuardFailed,
    StaleApplication,
    Status,
    TransitionNotAllowed,
    available_actions,
    transition,
)
from essms_portal.accounts.models import Role
from grappes.models import GrappeOrganisation, Region
from tests.factories import (
    ApplicationFactory,
    OrganisationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dossier() -> Application:
    """A submittable draft: 15 ESSMS in Paris on the Île-de-France regional call."""
    return ApplicationFactory(grappe=grappe_with_structures(15))


@pytest.fixture
def porteur_user(dossier: Application):
    user = UserFactory()
    confirmed_member(user, dossier.grappe.porteur)
    return user


def _ars(role: str, region: str = "11"):
    return UserFactory(role=role, region=Region.objects.get(code=region))


def test_submit_by_confirmed_porteur_member_logs_a_chained_entry(dossier, porteur_user):
    result = transition(dossier, action=Action.SUBMIT, by=porteur_user)

    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED
    assert dossier.submitted_at is not None
    assert dossier.version == 2
    assert result.entry.previous_hash == GENESIS_HASH
    assert result.entry.from_status == Status.DRAFT
    assert result.entry.to_status == Status.SUBMITTED
    assert len(result.entry.entry_hash) == 64


def test_submit_refused_for_an_instructeur(dossier):
    with pytest.raises(TransitionNotAllowed):
        transition(dossier, action=Action.SUBMIT, by=_ars(Role.ARS_INSTRUCTEUR))
    dossier.refresh_from_db()
    assert dossier.status == Status.DRAFT
    assert not WorkflowLog.objects.exists()


def test_submit_refused_for_a_gestionnaire_of_another_organisation(dossier):
    outsider = UserFactory()
    confirmed_member(outsider, OrganisationFactory())
    with pytest.raises(TransitionNotAllowed):
        transition(dossier, action=Action.SUBMIT, by=outsider)


def test_submit_refused_when_the_quote_has_a_blocking_error(porteur_user):
    small = ApplicationFactory(grappe=grappe_with_structures(14))
    confirmed_member(porteur_user, small.grappe.porteur)
    with pytest.raises(GuardFailed, match="erreurs bloquantes"):
        transition(small, action=Action.SUBMIT, by=porteur_user)


def test_submit_refused_while_a_member_has_not_confirmed(dossier, porteur_user):
    GrappeOrganisation.objects.create(
        grappe=dossier.grappe, organisation=OrganisationFactory(name="Gestionnaire hésitant")
    )
    with pytest.raises(GuardFailed, match="Gestionnaire hésitant"):
        transition(dossier, action=Action.SUBMIT, by=porteur_user)


def test_wrong_state_is_refused(dossier):
    with pytest.raises(TransitionNotAllowed, match="Brouillon"):
        transition(dossier, action=Action.ACCEPT, by=UserFactory(role=Role.CNSA_AGENT))


def test_take_is_scoped_to_the_instructeur_region(dossier, porteur_user):
    transition(dossier, action=Action.SUBMIT, by=porteur_user)
    with pytest.raises(TransitionNotAllowed):
        transition(dossier, action=Action.TAKE, by=_ars(Role.ARS_INSTRUCTEUR, region="84"))
    transition(dossier, action=Action.TAKE, by=_ars(Role.ARS_INSTRUCTEUR))
    dossier.refresh_from_db()
    assert dossier.status == Status.IN_REVIEW


def test_stale_version_is_refused(dossier, porteur_user):
    with pytest.raises(StaleApplication):
        transition(dossier, action=Action.SUBMIT, by=porteur_user, expected_version=99)
    transition(dossier, action=Action.SUBMIT, by=porteur_user, expected_version=1)


def _to_proposed(dossier, porteur_user, instructeur):
    transition(dossier, action=Action.SUBMIT, by=porteur_user)
    transition(dossier, action=Action.TAKE, by=instructeur)
    transition(dossier, action=Action.PROPOSE, by=instructeur)


def test_four_eyes_the_proposer_cannot_decide(dossier, porteur_user):
    cnsa = UserFactory(role=Role.CNSA_AGENT)
    _to_proposed(dossier, porteur_user, cnsa)
    with pytest.raises(GuardFailed, match="autre agent"):
        transition(dossier, action=Action.ACCEPT, by=cnsa)
    transition(dossier, action=Action.ACCEPT, by=_ars(Role.ARS_VALIDEUR))
    dossier.refresh_from_db()
    assert dossier.status == Status.ACCEPTED
    assert dossier.decided_at is not None


def test_available_actions_follow_role_and_scope(dossier, porteur_user):
    assert available_actions(dossier, porteur_user) == [Action.SUBMIT, Action.WITHDRAW]
    assert available_actions(dossier, _ars(Role.ARS_INSTRUCTEUR, region="84")) == []


def test_verify_audit_passes_then_detects_an_altered_entry(dossier, porteur_user, capsys):
    instructeur = _ars(Role.ARS_INSTRUCTEUR)
    _to_proposed(dossier, porteur_user, instructeur)
    call_command("verify_audit")
    assert "3 entrées vérifiées" in capsys.readouterr().out

    second = WorkflowLog.objects.order_by("id")[1]
    WorkflowLog.objects.filter(pk=second.pk).update(comment="modifié en base")
    with pytest.raises(CommandError, match=f"entrée n° {second.pk}") as error:
        call_command("verify_audit")
    assert error.value.returncode == 1


def test_status_and_timestamps_are_tied_by_the_database(dossier):
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=dossier.pk).update(status=Status.SUBMITTED)
