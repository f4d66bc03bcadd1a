"""A dossier's statuses, the status groups and the actions: plain choices, imported by the
models and by every module that asks "which statuses count as …" (``workflow`` re-exports them;
the transition table itself is in ``workflow``)."""

from __future__ import annotations

from django.db import models


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


# Status groups: the one home of every "which statuses count as …" rule. Code asks these groups,
# never lists statuses itself. ``grappes`` and ``funding`` may not import ``applications``: they
# keep a mirror of the group they need (``grappes.permissions.DOSSIER_PAST_DRAFT``,
# ``funding.services.FUNDED_STATUSES``) that tests/applications/test_status_groups.py compares
# with the group here.
#: The applicant edits the requests and adds attachments: a draft, or complements requested.
EDITABLE: frozenset[str] = frozenset({Status.DRAFT, Status.COMPLEMENT_REQUESTED})
#: Left the draft stage, withdrawn included: the back office sees the dossier and its grappe is
#: frozen (a withdrawn dossier's grappe stays as it was submitted).
PAST_DRAFT: frozenset[str] = frozenset(Status) - {Status.DRAFT}
#: Not (or no longer) in the procedure: never submitted, or withdrawn. No ``submitted_at`` is
#: required; the dashboard does not count them.
NOT_SUBMITTED: frozenset[str] = frozenset({Status.DRAFT, Status.WITHDRAWN})
#: Submitted and not decided yet: someone instructs it, it may be assigned.
OPEN_FOR_INSTRUCTION: frozenset[str] = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.COMPLEMENT_REQUESTED, Status.PROPOSED}
)
#: A decision was taken (``decided_at`` is set), notified or not.
DECIDED: frozenset[str] = frozenset({Status.ACCEPTED, Status.REJECTED, Status.NOTIFIED})
#: Decided, decision not issued yet: what ``decisions.decision_issue`` notifies.
AWAITING_NOTIFICATION: frozenset[str] = frozenset({Status.ACCEPTED, Status.REJECTED})
#: The grant counts: the call's envelope use, "already funded" in later campaigns.
FUNDED: frozenset[str] = frozenset({Status.ACCEPTED, Status.NOTIFIED})


def ordered(group: frozenset[str]) -> list[str]:
    """A group's statuses in the order of ``Status`` (deterministic SQL and migrations)."""
    return [status for status in Status if status in group]


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
    # Recorded in the log without changing the status (from_status == to_status): see record().
    SCORE = "score", "Évaluation enregistrée"
    EDIT_PROPOSAL = "edit_proposal", "Proposition modifiée"
    ASSIGN = "assign", "Affectation"


#: What a history entry says happened, in the past tense: ``Action`` labels are what a button
#: does ("Déposer"), these are what the log shows ("Dossier déposé"). One home for the applicant's
#: timeline and the back office's history.
ACTION_EVENTS: dict[str, str] = {
    Action.SUBMIT: "Dossier déposé",
    Action.WITHDRAW: "Dossier retiré",
    Action.TAKE: "Pris en instruction",
    Action.ASK_COMPLEMENT: "Compléments demandés",
    Action.RESUBMIT: "Compléments envoyés",
    Action.PROPOSE: "Décision proposée",
    Action.ACCEPT: "Dossier accepté",
    Action.REJECT: "Dossier refusé",
    Action.SEND_BACK: "Renvoyé en instruction",
    Action.NOTIFY: "Décision notifiée",
    Action.SCORE: "Évaluation enregistrée",
    Action.EDIT_PROPOSAL: "Proposition modifiée",
    Action.ASSIGN: "Affectation modifiée",
}


def action_event(action: str) -> str:
    """The past-tense label of a history entry's action (its code when unknown)."""
    return ACTION_EVENTS.get(action, action)
