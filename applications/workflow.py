"""The dossier workflow: states, one transition table, one ``transition`` service, the log.

Every status change in the portal (views, admin, commands) goes through :func:`transition`,
which locks the row, checks the actor's role and scope, the version and the guards, saves and
appends a hash-chained log entry. Each application's log is its own chain: the row lock on the
application serialises its appends, so the chain can never fork.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.utils import timezone

if TYPE_CHECKING:
    from essms_portal.accounts.models import User

    from .models import Application, WorkflowLog

GENESIS_HASH = "0" * 64


class Status(models.TextChoices):
    """Where a dossier stands."""

    DRAFT = "draft", "Brouillon"
    SUBMITTED = "submitted", "Déposé"
    IN_REVIEW = "in_review", "En instruction"
    COMPLEMENT_REQUESTED = "complement_requested", "Compléments demandés"
    PROPOSED = "proposed", "Proposition de décision"
    ACCEPTED = "accepted", "Accepté"
    REJECTED = "rejected", "Refusé"
    NOTIFIED = "notified", "Décision notifiée"
    WITHDRAWN = "withdrawn", "Retiré"


class Action(models.TextChoices):
    """What someone does to a dossier."""

    SUBMIT = "submit", "Déposer"
    WITHDRAW = "withdraw", "Retirer"
    TAKE = "take", "Prendre en instruction"
    ASK_COMPLEMENT = "ask", "Demander des compléments"
    RESUBMIT = "resubmit", "Renvoyer après compléments"
    PROPOSE = "propose", "Proposer une décision"
    ACCEPT = "accept", "Accepter"
    REJECT = "reject", "Refuser"
    SEND_BACK = "send_back", "Renvoyer en instruction"
    NOTIFY = "notify", "Notifier la décision"


# Role names (accounts.Role values) kept as plain strings so the table reads as data.
GESTIONNAIRE = "gestionnaire"
INSTRUCTEUR = "ars_instructeur"
VALIDEUR = "ars_valideur"
CNSA = "cnsa_agent"
REVIEWERS = frozenset({INSTRUCTEUR, CNSA})
DECIDERS = frozenset({VALIDEUR, CNSA})

# {(from_status, action): (to_status, roles allowed)}
TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    (Status.DRAFT, Action.SUBMIT): (Status.SUBMITTED, frozenset({GESTIONNAIRE})),
    (Status.DRAFT, Action.WITHDRAW): (Status.WITHDRAWN, frozenset({GESTIONNAIRE})),
    (Status.SUBMITTED, Action.WITHDRAW): (Status.WITHDRAWN, frozenset({GESTIONNAIRE})),
    (Status.COMPLEMENT_REQUESTED, Action.WITHDRAW): (Status.WITHDRAWN, frozenset({GESTIONNAIRE})),
    (Status.SUBMITTED, Action.TAKE): (Status.IN_REVIEW, REVIEWERS),
    (Status.IN_REVIEW, Action.ASK_COMPLEMENT): (Status.COMPLEMENT_REQUESTED, REVIEWERS),
    (Status.COMPLEMENT_REQUESTED, Action.RESUBMIT): (Status.IN_REVIEW, frozenset({GESTIONNAIRE})),
    (Status.IN_REVIEW, Action.PROPOSE): (Status.PROPOSED, REVIEWERS),
    (Status.PROPOSED, Action.ACCEPT): (Status.ACCEPTED, DECIDERS),
    (Status.PROPOSED, Action.REJECT): (Status.REJECTED, DECIDERS),
    (Status.PROPOSED, Action.SEND_BACK): (Status.IN_REVIEW, DECIDERS),
    (Status.ACCEPTED, Action.NOTIFY): (Status.NOTIFIED, frozenset({CNSA})),
    (Status.REJECTED, Action.NOTIFY): (Status.NOTIFIED, frozenset({CNSA})),
}


class TransitionError(Exception):
    """A transition was refused; ``message`` is shown to the user as is (French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransitionNotAllowed(TransitionError):
    """The action does not apply to this status, or not for this person."""


class GuardFailed(TransitionError):
    """The action applies but a precondition (guard) does not hold."""


class StaleApplication(TransitionError):
    """Someone else changed the dossier since the page was loaded."""


@dataclass(frozen=True)
class TransitionResult:
    """What a successful transition did."""

    application: Application
    entry: WorkflowLog


@dataclass(frozen=True)
class TransitionContext:
    """Extra input some guards need (e.g. a CNSA override of the envelope, with its reason)."""

    override_reason: str = ""


Guard = Callable[["Application", "User", TransitionContext], str | None]


def _guard_submittable(application: Application, by: User, ctx: TransitionContext) -> str | None:
    """Submit needs a quote without blocking errors and every member's confirmation."""
    from funding.services import quote_for

    quote = quote_for(application)
    if quote.errors:
        return "Le dossier ne peut pas être déposé : le chiffrage comporte des erreurs bloquantes."
    unconfirmed = application.grappe.organisations.filter(confirmed_at__isnull=True)
    if unconfirmed.exists():
        names = ", ".join(
            sorted(o.organisation.name for o in unconfirmed.select_related("organisation"))
        )
        return (
            f"Tous les gestionnaires doivent confirmer leur participation (en attente : {names})."
        )
    return None


def _guard_four_eyes(application: Application, by: User, ctx: TransitionContext) -> str | None:
    """A validator never decides on a dossier whose decision they proposed themselves."""
    proposer = (
        application.log_entries.filter(action=Action.PROPOSE)
        .order_by("-id")
        .values_list("actor_id", flat=True)
        .first()
    )
    if proposer is not None and proposer == by.pk:
        return "Vous avez proposé cette décision : un autre agent doit la valider."
    return None


def _guard_proposal_complete(
    application: Application, by: User, ctx: TransitionContext
) -> str | None:
    """Propose needs a complete review, proposed amounts for every line and a recommendation."""
    from .selectors import application_score

    if application_score(application=application) is None:
        return "Notez le dossier sur tous les critères de la grille avant de proposer une décision."
    if not application.proposed_amounts.exists():
        return "Saisissez les montants proposés avant de proposer une décision."
    if not application.recommendation or not application.motivation.strip():
        return "Indiquez votre recommandation (accepter ou refuser) et sa motivation."
    return None


def _guard_envelope(application: Application, by: User, ctx: TransitionContext) -> str | None:
    """Accepting must fit in the call's envelope, unless a CNSA agent overrides with a reason."""
    from .selectors import call_envelope_use

    use = call_envelope_use(call=application.call)
    proposed = application_proposed_total(application)
    if use.accepted + proposed <= application.call.envelope:
        return None
    if by.role == CNSA and ctx.override_reason.strip():
        return None
    return (
        f"Accepter ce dossier ({proposed} €) dépasserait l'enveloppe de l'appel : "
        f"{use.accepted} € déjà accordés sur {application.call.envelope} €. Seul un agent CNSA "
        "peut passer outre, avec un motif écrit."
    )


def application_proposed_total(application: Application) -> int:
    """Sum of the proposed amounts of a dossier, in euros."""
    from django.db.models import Sum

    total = application.proposed_amounts.aggregate(total=Sum("proposed"))["total"]
    return int(total or 0)


GUARDS: dict[str, tuple[Guard, ...]] = {
    Action.SUBMIT: (_guard_submittable,),
    Action.RESUBMIT: (_guard_submittable,),
    Action.PROPOSE: (_guard_proposal_complete,),
    Action.ACCEPT: (_guard_four_eyes, _guard_envelope),
    Action.REJECT: (_guard_four_eyes,),
}

# On a regional dossier a CNSA agent only reads, except to accept beyond the envelope (override)
# and to notify the decision.
CNSA_REGIONAL_ACTIONS = frozenset({Action.ACCEPT, Action.NOTIFY})


def actor_in_scope(application: Application, by: User, action: str | None = None) -> bool:
    """Whether ``by`` may act on this dossier: a confirmed member of the porteur for applicants,
    the call's region for ARS agents; CNSA agents act on national-call dossiers, and on regional
    ones only to accept (envelope override) or notify."""
    if by.role == GESTIONNAIRE:
        return application.grappe.porteur.members.filter(user=by, status="confirmed").exists()
    if by.role in (INSTRUCTEUR, VALIDEUR):
        return application.call.region_id is not None and application.call.region_id == by.region_id
    if by.role == CNSA:
        return application.call.scope == "national" or action in CNSA_REGIONAL_ACTIONS
    return False


def available_actions(application: Application, by: User) -> list[str]:
    """Actions the table offers ``by`` on this dossier now (guards not evaluated)."""
    return [
        action
        for (status, action), (_, roles) in TRANSITIONS.items()
        if status == application.status
        and by.role in roles
        and actor_in_scope(application, by, action)
    ]


def entry_digest(
    *,
    application_id: int,
    action: str,
    from_status: str,
    to_status: str,
    actor_id: int,
    actor_email: str,
    comment: str,
    created_at: str,
    previous_hash: str,
) -> str:
    """SHA-256 of a log entry's content chained to the previous entry's hash."""
    payload = json.dumps(
        {
            "application": application_id,
            "action": action,
            "from": from_status,
            "to": to_status,
            "actor": actor_id,
            "actor_email": actor_email,
            "comment": comment,
            "at": created_at,
            "previous": previous_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _append_log(
    application: Application, *, action: str, from_status: str, by: User, comment: str
) -> WorkflowLog:
    from .models import WorkflowLog

    last = application.log_entries.order_by("-id").values_list("entry_hash", flat=True).first()
    previous = last or GENESIS_HASH
    now = timezone.now()
    digest = entry_digest(
        application_id=application.pk,
        action=action,
        from_status=from_status,
        to_status=application.status,
        actor_id=by.pk,
        actor_email=by.email,
        comment=comment,
        created_at=now.isoformat(),
        previous_hash=previous,
    )
    return WorkflowLog.objects.create(
        application=application,
        action=action,
        from_status=from_status,
        to_status=application.status,
        actor=by,
        actor_email=by.email,
        comment=comment,
        created_at=now,
        previous_hash=previous,
        entry_hash=digest,
    )


def transition(
    application: Application,
    *,
    action: str,
    by: User,
    comment: str = "",
    expected_version: int | None = None,
    override_reason: str = "",
) -> TransitionResult:
    """Apply ``action`` to the dossier on behalf of ``by``, or raise a TransitionError.

    The people concerned are e-mailed once the transaction commits (``notifications``)."""
    from .models import Application

    with transaction.atomic():
        locked = (
            # of=("self",): lock the dossier only, not the joined call and grappe rows, so
            # transitions of different dossiers of one call never wait on each other.
            Application.objects.select_for_update(of=("self",))
            .select_related("grappe__porteur", "call")
            .get(pk=application.pk)
        )
        if expected_version is not None and locked.version != expected_version:
            raise StaleApplication(
                "Ce dossier vient d'être modifié par une autre personne. La page a été rechargée :"
                " vérifiez son nouvel état avant d'agir."
            )
        target = TRANSITIONS.get((locked.status, action))
        if target is None:
            raise TransitionNotAllowed(
                f"L'action « {Action(action).label} » n'est pas possible pour un dossier au statut"
                f" « {Status(locked.status).label} »."
            )
        to_status, roles = target
        if by.role not in roles or not actor_in_scope(locked, by, action):
            raise TransitionNotAllowed("Vous n'êtes pas habilité à effectuer cette action.")
        context = TransitionContext(override_reason=override_reason)
        for guard in GUARDS.get(action, ()):
            reason = guard(locked, by, context)
            if reason:
                raise GuardFailed(reason)
        if override_reason.strip() and action == Action.ACCEPT:
            comment = f"{comment}\nDépassement d'enveloppe autorisé : {override_reason}".strip()
        from_status = locked.status
        locked.status = to_status
        locked.version += 1
        now = timezone.now()
        if to_status == Status.SUBMITTED and locked.submitted_at is None:
            locked.submitted_at = now
        if to_status in (Status.ACCEPTED, Status.REJECTED):
            locked.decided_at = now
        locked.save(update_fields=["status", "version", "submitted_at", "decided_at", "updated_at"])
        entry = _append_log(locked, action=action, from_status=from_status, by=by, comment=comment)
        from .notifications import notify_transition

        transaction.on_commit(partial(notify_transition, entry_id=entry.pk))
    return TransitionResult(application=locked, entry=entry)


def verify_chain(entries: list[WorkflowLog]) -> WorkflowLog | None:
    """Return the first entry whose stored hash does not match its content, or None."""
    previous = GENESIS_HASH
    for entry in entries:
        expected = entry_digest(
            application_id=entry.application_id,
            action=entry.action,
            from_status=entry.from_status,
            to_status=entry.to_status,
            actor_id=entry.actor_id,
            actor_email=entry.actor_email,
            comment=entry.comment,
            created_at=entry.created_at.isoformat(),
            previous_hash=previous,
        )
        if entry.previous_hash != previous or entry.entry_hash != expected:
            return entry
        previous = entry.entry_hash
    return None
