"""E-mails of each workflow transition, to the people it concerns: recorded in the outbox in the
transition's transaction, sent by a worker after commit (``essms_portal.outbox``)."""

from __future__ import annotations

from essms_portal.accounts.models import Role, User
from essms_portal.emails import email_render
from essms_portal.outbox import OutgoingEmail, emails_queue
from grappes.models import OrganisationMember

from .models import Application, WorkflowLog
from .workflow import RECORDED_ACTIONS, Action, Status

APPLICANT_ACTIONS = frozenset(
    {
        Action.SUBMIT,
        Action.TAKE,
        Action.ASK_COMPLEMENT,
        Action.ACCEPT,
        Action.REJECT,
        Action.NOTIFY,
        Action.WITHDRAW,
    }
)


def applicant_emails(*, application: Application) -> set[str]:
    """Confirmed members of the organisations taking part in the grappe."""
    return set(
        User.objects.filter(
            organisation_memberships__organisation__grappe_participations__grappe=application.grappe,
            organisation_memberships__status=OrganisationMember.Status.CONFIRMED,
            is_active=True,
        ).values_list("email", flat=True)
    )


def _deciders_emails(application: Application) -> set[str]:
    """Who validates: the region's valideurs, or CNSA agents for the national call."""
    if application.call.scope == "national":
        users = User.objects.filter(role=Role.CNSA_AGENT, is_active=True)
    else:
        users = User.objects.filter(
            role=Role.ARS_VALIDEUR, region_id=application.call.region_id, is_active=True
        )
    return set(users.values_list("email", flat=True))


def recipients_for(entry: WorkflowLog) -> set[str]:
    """Everyone a transition concerns, the actor excepted; nobody for the entries that change no
    status (scores, proposal edits, assignments: ``workflow.record``)."""
    if entry.action in RECORDED_ACTIONS:
        return set()
    application = entry.application
    recipients: set[str] = set()
    if entry.action in APPLICANT_ACTIONS:
        recipients |= applicant_emails(application=application)
    if entry.action == Action.PROPOSE:
        recipients |= _deciders_emails(application)
    if entry.action in (Action.RESUBMIT, Action.ACCEPT, Action.REJECT, Action.SEND_BACK) and (
        application.assignee_id
    ):
        recipients.add(application.assignee.email)  # type: ignore[union-attr]
    if entry.action != Action.SUBMIT:  # the submitter gets the deposit receipt too
        recipients.discard(entry.actor_email)
    return recipients


def notify_transition(*, entry: WorkflowLog) -> None:
    """Record one e-mail per recipient of a transition in the outbox; called inside the
    transition's transaction, so a rolled-back transition e-mails nobody. The entry comes from
    the workflow with its locked dossier, grappe and call loaded (nothing is read again)."""
    application = entry.application
    subject, body = email_render(
        "workflow_transition",
        {
            "application": application,
            "entry": entry,
            "status": Status(entry.to_status).label,
            "action": Action(entry.action).label,
            "submitted": entry.action == Action.SUBMIT,
        },
    )
    # One e-mail per recipient (nobody sees the others' addresses), recorded together.
    emails_queue(
        OutgoingEmail(subject=subject, body=body, recipients=[email])
        for email in sorted(recipients_for(entry))
    )
