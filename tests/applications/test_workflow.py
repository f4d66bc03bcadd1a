"""The transition service: allowed and refused transitions, guards, versions, the log chain."""

from __future__ import annotations

from decimal import Decimal

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
    transition,
)
from essms_portal.accounts.models import Role
from grappes.models import GrappeOrganisation, Region
from tests.applications.helpers import (
    proposed_dossier,
    score_and_propose_amounts,
    submitted_dossier,
)
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    OrganisationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
    required_attachments,
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
    required_attachments(dossier, user)
    return user


def _ars(role: str, region: str = "11"):
    return UserFactory(role=role, region=Region.objects.get(code=region))


def test_submit_by_confirmed_porteur_member_logs_a_chained_entry(dossier, porteur_user):
    result = transition(application=dossier, action=Action.SUBMIT, by=porteur_user)

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
        transition(application=dossier, action=Action.SUBMIT, by=_ars(Role.ARS_INSTRUCTEUR))
    dossier.refresh_from_db()
    assert dossier.status == Status.DRAFT
    assert not WorkflowLog.objects.exists()


def test_submit_refused_for_a_gestionnaire_of_another_organisation(dossier):
    outsider = UserFactory()
    confirmed_member(outsider, OrganisationFactory())
    with pytest.raises(TransitionNotAllowed):
        transition(application=dossier, action=Action.SUBMIT, by=outsider)


def test_submit_refused_when_the_quote_has_a_blocking_error(porteur_user):
    small = ApplicationFactory(grappe=grappe_with_structures(14))
    confirmed_member(porteur_user, small.grappe.porteur)
    required_attachments(small, porteur_user)
    with pytest.raises(GuardFailed, match="erreurs bloquantes"):
        transition(application=small, action=Action.SUBMIT, by=porteur_user)


def test_submit_refused_while_a_member_has_not_confirmed(dossier, porteur_user):
    GrappeOrganisation.objects.create(
        grappe=dossier.grappe, organisation=OrganisationFactory(name="Gestionnaire hésitant")
    )
    with pytest.raises(GuardFailed, match="Gestionnaire hésitant"):
        transition(application=dossier, action=Action.SUBMIT, by=porteur_user)


def test_wrong_state_is_refused(dossier):
    with pytest.raises(TransitionNotAllowed, match="Brouillon"):
        transition(application=dossier, action=Action.ACCEPT, by=UserFactory(role=Role.CNSA_AGENT))


def test_take_is_scoped_to_the_instructeur_region(dossier, porteur_user):
    transition(application=dossier, action=Action.SUBMIT, by=porteur_user)
    with pytest.raises(TransitionNotAllowed):
        transition(
            application=dossier, action=Action.TAKE, by=_ars(Role.ARS_INSTRUCTEUR, region="84")
        )
    transition(application=dossier, action=Action.TAKE, by=_ars(Role.ARS_INSTRUCTEUR))
    dossier.refresh_from_db()
    assert dossier.status == Status.IN_REVIEW


def test_stale_version_is_refused(dossier, porteur_user):
    with pytest.raises(StaleApplication):
        transition(application=dossier, action=Action.SUBMIT, by=porteur_user, expected_version=99)
    transition(application=dossier, action=Action.SUBMIT, by=porteur_user, expected_version=1)


def test_four_eyes_the_proposer_cannot_decide_on_the_national_call():
    national = CallFactory(scope="national", region=None)
    application, _porteur = submitted_dossier(count=50, call=national)
    cnsa = UserFactory(role=Role.CNSA_AGENT)
    transition(application=application, action=Action.TAKE, by=cnsa)
    application.refresh_from_db()
    score_and_propose_amounts(application, cnsa)
    transition(application=application, action=Action.PROPOSE, by=cnsa)
    with pytest.raises(GuardFailed, match="autre agent"):
        transition(application=application, action=Action.ACCEPT, by=cnsa)
    transition(application=application, action=Action.ACCEPT, by=UserFactory(role=Role.CNSA_AGENT))
    application.refresh_from_db()
    assert application.status == Status.ACCEPTED
    assert application.decided_at is not None


def test_an_instructeur_who_is_also_proposer_cannot_validate():
    application, _porteur, instructeur = proposed_dossier()
    instructeur.role = Role.ARS_VALIDEUR  # promoted since: still the proposer of this dossier
    instructeur.save()
    with pytest.raises(GuardFailed, match="autre agent"):
        transition(application=application, action=Action.ACCEPT, by=instructeur)


def test_propose_needs_a_complete_review_and_amounts():
    application, _porteur = submitted_dossier()
    instructeur = _ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    with pytest.raises(GuardFailed, match="Notez le dossier"):
        transition(application=application, action=Action.PROPOSE, by=instructeur)


def test_cnsa_reads_regional_dossiers_but_does_not_instruct_them():
    application, _porteur = submitted_dossier()
    with pytest.raises(TransitionNotAllowed):
        transition(
            application=application, action=Action.TAKE, by=UserFactory(role=Role.CNSA_AGENT)
        )


def test_valideur_accepts_within_the_envelope_then_cnsa_notifies():
    application, _porteur, _instructeur = proposed_dossier()
    transition(application=application, action=Action.ACCEPT, by=_ars(Role.ARS_VALIDEUR))
    transition(application=application, action=Action.NOTIFY, by=UserFactory(role=Role.CNSA_AGENT))
    application.refresh_from_db()
    assert application.status == Status.NOTIFIED


def test_valideur_of_another_region_is_refused():
    application, _porteur, _instructeur = proposed_dossier()
    with pytest.raises(TransitionNotAllowed):
        transition(
            application=application, action=Action.ACCEPT, by=_ars(Role.ARS_VALIDEUR, region="84")
        )


def test_envelope_exceeded_is_refused_unless_cnsa_overrides_with_a_reason():
    call = CallFactory(envelope=Decimal(100_000))
    application, _porteur, _instructeur = proposed_dossier(call=call)
    valideur = _ars(Role.ARS_VALIDEUR)
    with pytest.raises(GuardFailed, match="enveloppe"):
        transition(application=application, action=Action.ACCEPT, by=valideur)
    cnsa = UserFactory(role=Role.CNSA_AGENT)
    with pytest.raises(GuardFailed, match="enveloppe"):
        transition(application=application, action=Action.ACCEPT, by=cnsa)
    result = transition(
        application=application,
        action=Action.ACCEPT,
        by=cnsa,
        override_reason="Priorité régionale validée en comité",
    )
    assert "Priorité régionale" in result.entry.comment


@pytest.mark.parametrize("action", [Action.REJECT, Action.SEND_BACK])
def test_valideur_rejects_or_sends_back(action):
    application, _porteur, _instructeur = proposed_dossier()
    transition(application=application, action=action, by=_ars(Role.ARS_VALIDEUR))
    application.refresh_from_db()
    assert application.status == (Status.REJECTED if action == Action.REJECT else Status.IN_REVIEW)


def test_complement_request_and_resubmission():
    application, porteur = submitted_dossier()
    instructeur = _ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    transition(application=application, action=Action.ASK_COMPLEMENT, by=instructeur)
    with pytest.raises(TransitionNotAllowed):
        transition(application=application, action=Action.RESUBMIT, by=instructeur)
    transition(application=application, action=Action.RESUBMIT, by=porteur)
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW


def test_withdraw_by_the_porteur():
    application, porteur = submitted_dossier()
    transition(application=application, action=Action.WITHDRAW, by=porteur)
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN


def test_transitions_email_the_people_concerned(mailoutbox, django_capture_on_commit_callbacks):
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    porteur = UserFactory(email="porteur@grappe.fr")
    confirmed_member(porteur, application.grappe.porteur)
    colleague = UserFactory(email="collegue@grappe.fr")
    confirmed_member(colleague, application.grappe.porteur)
    required_attachments(application, porteur)
    with django_capture_on_commit_callbacks(execute=True):
        transition(application=application, action=Action.SUBMIT, by=porteur)
    # Every confirmed member, the submitter included: it is their deposit receipt.
    assert sorted(m.to[0] for m in mailoutbox) == ["collegue@grappe.fr", "porteur@grappe.fr"]
    assert "Accusé de dépôt" in mailoutbox[0].subject


def test_verify_audit_passes_then_detects_an_altered_entry(capsys):
    proposed_dossier()  # submit, take, score, proposal edit, propose
    call_command("verify_audit")
    assert "5 entrées vérifiées" in capsys.readouterr().out

    second = WorkflowLog.objects.order_by("id")[1]
    WorkflowLog.objects.filter(pk=second.pk).update(comment="modifié en base")
    with pytest.raises(CommandError, match=f"entrée n° {second.pk}") as error:
        call_command("verify_audit")
    assert error.value.returncode == 1


def test_status_and_timestamps_are_tied_by_the_database(dossier):
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=dossier.pk).update(status=Status.SUBMITTED)
