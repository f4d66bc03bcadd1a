"""The dossier workflow: states, one transition table, one ``transition`` service, the log.

Every status change in the portal (views, admin, commands) goes through :func:`transition`,
which locks the row, checks the actor's role and scope, the version and the guards, saves and
appends a hash-chained log entry. Instruction acts that do not change the status (a score, a
proposal edit, an assignment) go through :func:`record`, which locks the same row, checks the
same way and appends to the same chain. Each application's log is its own chain: the row lock on
the application serialises its appends, so the chain can never fork.

Who may instruct and who may decide is answered by ``applications.permissions`` (one home);
this module asks it for the scope of every action.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from essms_portal.accounts.models import User
from essms_portal.hashchain import GENESIS_HASH, chain_first_broken
from funding.money import format_euros
from funding.services import quote_for

from .errors import DossierError
from .instruction.selectors import application_score, call_envelope_use
from .models import Application, WorkflowLog
from .permissions import can_accept, can_decide, can_instruct, can_override_envelope, is_porteur
from .statuses import (  # noqa: F401  (re-exported: workflow.Status, … are used everywhere)
    AWAITING_NOTIFICATION,
    DECIDED,
    EDITABLE,
    FUNDED,
    NOT_SUBMITTED,
    OPEN_FOR_INSTRUCTION,
    PAST_DRAFT,
    Action,
    Status,
    ordered,
)

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

# Instruction acts logged without a status change: {action: (statuses, roles, refusal message)}.
# Scores and proposed amounts are frozen once the decision is proposed: they change only while
# the dossier is in instruction (a send back reopens them, since it returns to in_review).
RECORDS: dict[str, tuple[frozenset[str], frozenset[str], str]] = {
    Action.SCORE: (
        frozenset({Status.IN_REVIEW}),
        REVIEWERS,
        "Les notes sont figées : elles ne se modifient que lorsque le dossier est en "
        "instruction, jamais après la proposition de décision.",
    ),
    Action.EDIT_PROPOSAL: (
        frozenset({Status.IN_REVIEW}),
        REVIEWERS,
        "Les montants proposés sont figés : ils ne se modifient que lorsque le dossier est en "
        "instruction, jamais après la proposition de décision.",
    ),
    Action.ASSIGN: (
        OPEN_FOR_INSTRUCTION,
        REVIEWERS,
        "L'affectation ne se modifie plus une fois la décision prise.",
    ),
}
RECORDED_ACTIONS = frozenset(RECORDS)

# Acts of instruction: whoever took one on a dossier since its submission never decides on it
# (four eyes, read from the log). Assignment is logged but is a dispatch, not an instruction.
INSTRUCTION_ACTIONS = frozenset(
    {
        Action.TAKE,
        Action.SCORE,
        Action.EDIT_PROPOSAL,
        Action.PROPOSE,
        Action.SEND_BACK,
        Action.ASK_COMPLEMENT,
    }
)
# Actions in the scope of the dossier's instructeurs (permissions.can_instruct).
INSTRUCTEUR_ACTIONS = frozenset(
    {
        Action.TAKE,
        Action.ASK_COMPLEMENT,
        Action.PROPOSE,
        Action.SCORE,
        Action.EDIT_PROPOSAL,
        Action.ASSIGN,
    }
)


class TransitionError(DossierError):
    """A transition was refused; ``message`` is shown to the user as is (French)."""


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


# Attachments every submission needs, submit and resubmit alike: {kind: French phrase}. A share
# proof is required besides for every ESSMS whose eligible share is below 1 (missing_attachments).
# The "convention" kind is the grappe's founding document: its phrase is the one of the grappe's
# declared legal form (``Grappe.founding_document``: convention constitutive du GCSMS, statuts,
# convention de grappe); the one below is the default form's.
FOUNDING_DOCUMENT_KIND = "convention"
REQUIRED_ATTACHMENTS = {
    FOUNDING_DOCUMENT_KIND: "la convention de grappe signée",
    "quote": "au moins un devis",
}


def required_attachments_of(*, application: Application) -> dict[str, str]:
    """The attachment kinds every submission of this dossier needs, with their French phrase:
    the founding document named for the grappe's legal form, and a quote."""
    return {**REQUIRED_ATTACHMENTS, FOUNDING_DOCUMENT_KIND: application.grappe.founding_document}


def missing_attachments(*, application: Application) -> list[str]:
    """The required attachments the dossier lacks, as French phrases: the submit guard refuses
    while any is missing, and the dossier page lists them ("Pièces manquantes")."""
    present = set(application.attachments.values_list("kind", flat=True))
    required = required_attachments_of(application=application)
    missing = [label for kind, label in required.items() if kind not in present]
    proofs = set(
        application.attachments.filter(kind="share_proof").values_list("membership_id", flat=True)
    )
    partial = application.grappe.memberships.filter(eligible_share__lt=1).select_related(
        "structure"
    )
    missing += [
        f"le justificatif de part éligible de {m.structure.name}"
        for m in partial
        if m.pk not in proofs
    ]
    return missing


def _guard_submittable(application: Application, by: User, ctx: TransitionContext) -> str | None:
    """Every condition of a submission, the first deposit (submit) and the answer to a
    complement request (resubmit) alike: the required attachments (``missing_attachments``), a
    quote without blocking errors, and every organisation's confirmed participation."""
    missing = missing_attachments(application=application)
    if missing:
        return "Pièces manquantes : " + " ; ".join(missing) + "."
    quote = quote_for(application=application)
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


def instructed_since_submission(application: Application, user: User) -> bool:
    """Whether ``user`` took an instruction act on the dossier (take, score, proposal edit,
    propose, send back, complement request) since its submission, read from the log.

    "Since its submission" counts from the last SUBMIT entry, i.e. the first deposit: a
    resubmission after complements does not wipe the slate, so an instructeur who asked for
    complements still cannot decide after the applicant answers."""
    entries = application.log_entries.all()
    submitted = (
        entries.filter(action=Action.SUBMIT).order_by("-id").values_list("id", flat=True).first()
    )
    acts = entries.filter(actor_id=user.pk, action__in=INSTRUCTION_ACTIONS)
    if submitted is not None:
        acts = acts.filter(id__gt=submitted)
    return acts.exists()


def _guard_four_eyes(application: Application, by: User, ctx: TransitionContext) -> str | None:
    """Whoever decides (accepts, rejects, sends back) has taken no instruction act on the
    dossier since its submission: the one who instructs is never the one who decides."""
    if instructed_since_submission(application, by):
        return (
            "Vous avez pris part à l'instruction de ce dossier (prise en charge, notation, "
            "proposition, renvoi en instruction ou demande de compléments) : un autre agent doit "
            "décider."
        )
    return None


def _guard_proposal_complete(
    application: Application, by: User, ctx: TransitionContext
) -> str | None:
    """Propose needs a complete review, proposed amounts for every line and a recommendation."""
    if application_score(application=application) is None:
        return "Notez le dossier sur tous les critères de la grille avant de proposer une décision."
    if not application.proposed_amounts.exists():
        return "Saisissez les montants proposés avant de proposer une décision."
    if not application.recommendation or not application.motivation.strip():
        return "Indiquez votre recommandation (accepter ou refuser) et sa motivation."
    return None


def envelope_exceeded(application: Application) -> bool:
    """Whether accepting the dossier would take the call's accepted total past its envelope."""
    use = call_envelope_use(call=application.call)
    return use.accepted + application_proposed_total(application) > application.call.envelope


def _guard_cnsa_regional_override(
    application: Application, by: User, ctx: TransitionContext
) -> str | None:
    """On a regional call the region's valideur decides; a CNSA agent accepts only to override
    the envelope: when the acceptance would exceed it (the written reason is checked by the
    envelope guard)."""
    if can_decide(by, application) or envelope_exceeded(application):
        return None
    return (
        "Sur un appel régional, la décision revient au valideur de l'ARS : un agent CNSA "
        "n'accepte un dossier que pour autoriser un dépassement de l'enveloppe, qui n'est pas "
        "dépassée ici."
    )


def _guard_envelope(application: Application, by: User, ctx: TransitionContext) -> str | None:
    """Accepting must fit in the call's envelope, unless a CNSA agent overrides with a reason."""
    if not envelope_exceeded(application):
        return None
    if can_override_envelope(by, application) and ctx.override_reason.strip():
        return None
    use = call_envelope_use(call=application.call)
    proposed = application_proposed_total(application)
    return (
        f"Accepter ce dossier ({format_euros(proposed)}) dépasserait l'enveloppe de l'appel : "
        f"{format_euros(use.accepted)} déjà accordés sur {format_euros(application.call.envelope)}."
        " Seul un agent CNSA "
        "peut passer outre, avec un motif écrit."
    )


def application_proposed_total(application: Application) -> int:
    """Sum of the proposed amounts of a dossier, in euros."""
    total = application.proposed_amounts.aggregate(total=Sum("proposed"))["total"]
    return int(total or 0)


GUARDS: dict[str, tuple[Guard, ...]] = {
    Action.SUBMIT: (_guard_submittable,),
    Action.RESUBMIT: (_guard_submittable,),
    Action.PROPOSE: (_guard_proposal_complete,),
    Action.ACCEPT: (_guard_four_eyes, _guard_cnsa_regional_override, _guard_envelope),
    Action.REJECT: (_guard_four_eyes,),
    Action.SEND_BACK: (_guard_four_eyes,),
}
# Guards that depend only on who acts and on the dossier's history, never on what a form says:
# the review page asks them too (available_actions), so it shows only the buttons the person may
# really use. The others (completeness, envelope) explain their refusal when the button is used.
ACTOR_GUARDS: frozenset[Guard] = frozenset({_guard_four_eyes, _guard_cnsa_regional_override})


def actor_in_scope(application: Application, by: User, action: str | None = None) -> bool:
    """Whether ``by`` may take ``action`` on this dossier, as far as who they are goes.

    Applicants: confirmed members of the porteur. Instruction acts (take, ask, propose, score,
    proposal edit, assignment): ``permissions.can_instruct``. Reject and send back:
    ``permissions.can_decide``. Accept: ``permissions.can_accept`` (deciders, and CNSA agents on
    a regional call for an envelope override, see the guards). Notify: CNSA agents, every call.
    Without an action: whether they may instruct or decide at all."""
    if by.role == GESTIONNAIRE:
        return is_porteur(by, application)
    if action in INSTRUCTEUR_ACTIONS:
        return can_instruct(by, application)
    if action == Action.ACCEPT:
        return can_accept(by, application)
    if action in (Action.REJECT, Action.SEND_BACK):
        return can_decide(by, application)
    if action == Action.NOTIFY:
        return by.role == CNSA
    if action is None:
        return can_instruct(by, application) or can_decide(by, application)
    return False


def refusal(
    application: Application,
    by: User,
    action: str,
    context: TransitionContext | None = None,
) -> TransitionError | None:
    """Why ``by`` may not take ``action`` on the dossier as it stands, or None.

    The transition table (or the record table) for the status and the role, the scope, then the
    guards: all of them given a ``context`` (the form's input), only ``ACTOR_GUARDS`` without."""
    if action in RECORDS:
        statuses, roles, frozen = RECORDS[action]
        if by.role not in roles or not actor_in_scope(application, by, action):
            return TransitionNotAllowed("Vous n'êtes pas habilité à effectuer cette action.")
        if application.status not in statuses:
            return TransitionNotAllowed(frozen)
        return None
    target = TRANSITIONS.get((application.status, action))
    if target is None:
        return TransitionNotAllowed(
            f"L'action « {Action(action).label} » n'est pas possible pour un dossier au statut"
            f" « {Status(application.status).label} »."
        )
    _to_status, roles = target
    if by.role not in roles or not actor_in_scope(application, by, action):
        return TransitionNotAllowed("Vous n'êtes pas habilité à effectuer cette action.")
    for guard in GUARDS.get(action, ()):
        if context is None and guard not in ACTOR_GUARDS:
            continue
        reason = guard(application, by, context or TransitionContext())
        if reason:
            return GuardFailed(reason)
    return None


def available_actions(application: Application, by: User) -> list[str]:
    """Transitions ``by`` may take on this dossier now: table, scope and the guards that depend
    on who acts (four eyes, CNSA on a regional call); completeness and envelope guards are left
    to explain themselves when the action is tried."""
    return [
        action
        for (status, action) in TRANSITIONS
        if status == application.status and refusal(application, by, action) is None
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


def _locked(application: Application, expected_version: int | None) -> Application:
    """The dossier's row, locked until the end of the transaction, at the expected version."""
    locked = (
        # of=("self",): lock the dossier only, not the joined call and grappe rows, so
        # transitions of different dossiers of one call never wait on each other.
        # The call's campaign and region come with it: the guards, the e-mails and the decision
        # issued after a NOTIFY read them, and one join costs less than one more query.
        Application.objects.select_for_update(of=("self",))
        .select_related("grappe__porteur", "call__campaign", "call__region")
        .get(pk=application.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise StaleApplication(
            "Ce dossier vient d'être modifié par une autre personne. La page a été rechargée :"
            " vérifiez son nouvel état avant d'agir."
        )
    return locked


class TransitionHook(Protocol):
    def __call__(self, *, entry: WorkflowLog) -> None: ...


_transition_hooks: list[TransitionHook] = []


def on_transition(hook: TransitionHook) -> None:
    """Have ``hook(entry=…)`` called with the log entry of every transition, inside its
    transaction. The entry is the one just written, its ``application`` the locked dossier with
    its grappe, porteur, call, campaign and region loaded (read under the transition's lock): a
    hook reads them without a query. ``applications.apps`` registers
    ``notifications.notify_transition`` at start-up: the workflow does not import what reacts
    to it."""
    if hook not in _transition_hooks:
        _transition_hooks.append(hook)


def transition(
    *,
    application: Application,
    action: str,
    by: User,
    comment: str = "",
    expected_version: int | None = None,
    override_reason: str = "",
    savepoint: bool = True,
) -> TransitionResult:
    """Apply ``action`` to the dossier on behalf of ``by``, or raise a TransitionError.

    The transition hooks (:func:`on_transition`; ``notifications`` e-mails the people
    concerned, once the transaction commits) run inside its transaction.

    ``savepoint=False`` is for a caller whose own ``atomic`` block wraps this call and lets
    every error out (``decisions.services.decision_issue``): a refusal then rolls back the
    caller's block as a whole, and the two round trips of a savepoint are saved. A caller that
    catches the TransitionError and goes on in the same transaction keeps the default."""
    if action in RECORDS:
        raise TransitionNotAllowed(
            f"« {Action(action).label} » ne change pas le statut du dossier : ce n'est pas une "
            "transition."
        )
    with transaction.atomic(savepoint=savepoint):
        locked = _locked(application, expected_version)
        context = TransitionContext(override_reason=override_reason)
        refused = refusal(locked, by, action, context)
        if refused is not None:
            raise refused
        to_status = TRANSITIONS[(locked.status, action)][0]
        if action == Action.ACCEPT and override_reason.strip() and envelope_exceeded(locked):
            comment = f"{comment}\nDépassement d'enveloppe autorisé : {override_reason}".strip()
        from_status = locked.status
        locked.status = to_status
        locked.version += 1
        now = timezone.now()
        if to_status == Status.SUBMITTED and locked.submitted_at is None:
            locked.submitted_at = now
        if to_status in DECIDED and locked.decided_at is None:
            locked.decided_at = now
        locked.save(update_fields=["status", "version", "submitted_at", "decided_at", "updated_at"])
        entry = _append_log(locked, action=action, from_status=from_status, by=by, comment=comment)
        # In the transaction: what the hooks record (the e-mails of ``notifications``, in the
        # outbox) exists if and only if the transition commits.
        for hook in _transition_hooks:
            hook(entry=entry)
    return TransitionResult(application=locked, entry=entry)


def record(
    *,
    application: Application,
    action: str,
    by: User,
    comment: str = "",
    expected_version: int | None = None,
) -> TransitionResult:
    """Log an instruction act that does not change the status (``RECORDS``: a score, a proposal
    edit, an assignment) on behalf of ``by``, or raise a TransitionError.

    Locks the dossier's row, checks the version, the role, the scope and the status (scores and
    proposed amounts are frozen outside ``in_review``), then appends to the same hash chain as
    the transitions (from_status == to_status). Call it inside the caller's transaction, before
    writing what it records, so that the data and its log entry commit or roll back together.
    Nobody is e-mailed for these entries. The version is not bumped here: callers whose write
    concerns a versioned form do it on the returned (locked) application."""
    if action not in RECORDS:
        raise ValueError(f"{action!r} is a transition: use transition().")
    with transaction.atomic():
        locked = _locked(application, expected_version)
        refused = refusal(locked, by, action)
        if refused is not None:
            raise refused
        entry = _append_log(
            locked, action=action, from_status=locked.status, by=by, comment=comment
        )
    return TransitionResult(application=locked, entry=entry)


def verify_chain(entries: list[WorkflowLog]) -> WorkflowLog | None:
    """Return the first entry whose stored hash does not match its content, or None."""
    return chain_first_broken(entries, digest=_log_digest)


def _log_digest(entry: WorkflowLog, previous: str) -> str:
    return entry_digest(
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


# Predicates on the workflow's table (the other predicates are in ``permissions``, which this
# module asks; they live here because they ask the table, scope and guards above).
def can_act(user: User, application: Application, action: str) -> bool:
    """Whether ``user`` may take ``action`` (a transition or a recorded act such as a score) on
    the dossier as it stands: the workflow's table, scope and the guards that do not depend on
    form input (four eyes, CNSA on a regional call). The review page shows only these actions
    and forms; the workflow checks everything again when the action is taken."""
    return user.is_authenticated and refusal(application, user, action) is None


def can_applicant_act(user: User, application: Application, action: str) -> bool:
    """Submit, resubmit and withdraw are the workflow's transitions: the transition table and
    its scope (:func:`is_porteur`) decide; the guards on content (quote, attachments) explain
    themselves when the action is tried."""
    return user.role == GESTIONNAIRE and can_act(user, application, action)
