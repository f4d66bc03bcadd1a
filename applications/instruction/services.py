"""Write-side services of the instruction back office (keyword-only, typed): scoring grid and
reviews, notes, assignment, complement requests and reminders, proposals."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from essms_portal.accounts.models import User
from essms_portal.emails import email_queue_template
from essms_portal.money import format_euros
from funding.rules import QuoteResult
from funding.services import quote_for

from .. import permissions
from ..errors import DossierError
from ..models import (
    Application,
    Call,
    ComplementRequest,
    PrivateNote,
    ProposedAmount,
    Review,
    ReviewScore,
    ScoringCriterion,
)
from ..notifications import applicant_emails
from ..workflow import Action, TransitionResult, record, transition

DEFAULT_GRID: tuple[tuple[str, str, int], ...] = (
    (
        "Gouvernance et convention de grappe",
        "Portage clair, convention signée par les gestionnaires, instances de pilotage.",
        3,
    ),
    (
        "Diversité des secteurs et taille de la grappe",
        "Mixité des publics (personnes âgées, handicap, AHI…) et nombre d'ESSMS.",
        2,
    ),
    ("Couverture territoriale", "Répartition des ESSMS, zones peu équipées.", 2),
    ("Engagements d'usage", "Usage du DUI, MSSanté et DMP : cibles et moyens de suivi.", 2),
    ("Réalisme du budget et du calendrier", "Devis, plan de déploiement, jalons.", 1),
)


def call_default_grid(*, call: Call) -> list[ScoringCriterion]:
    """Give a call the default scoring grid when it has none yet (idempotent)."""
    if call.criteria.exists():
        return list(call.criteria.all())
    return ScoringCriterion.objects.bulk_create(
        ScoringCriterion(call=call, label=label, help_text=help_text, weight=weight, position=index)
        for index, (label, help_text, weight) in enumerate(DEFAULT_GRID)
    )


def score_out_of_100(marks: dict[ScoringCriterion, int]) -> Decimal:
    """Weighted marks (0 to 5) as a score out of 100, to the hundredth."""
    weights = sum(c.weight for c in marks)
    if not weights:
        return Decimal(0)
    raw = Decimal(sum(c.weight * v for c, v in marks.items()) * 100) / Decimal(weights * 5)
    return raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _french_number(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def review_comment(marks: dict[ScoringCriterion, int], comment: str) -> str:
    """What a score log entry says: the score, every mark and the reviewer's comment."""
    ordered = sorted(marks.items(), key=lambda item: (item[0].position, item[0].pk))
    text = f"Note {_french_number(score_out_of_100(marks))}/100 — " + " ; ".join(
        f"{criterion.label} : {value}/5" for criterion, value in ordered
    )
    return f"{text}\nAppréciation : {comment}" if comment.strip() else text


@transaction.atomic
def review_save(
    *, application: Application, by: User, marks: dict[ScoringCriterion, int], comment: str
) -> Review:
    """Create or replace ``by``'s review of the dossier, logged in its hash chain (score and
    marks in the entry's comment). Only the dossier's instructeurs score it, and only while it
    is in instruction: scores are frozen once the decision is proposed (``workflow.RECORDS``;
    a send back reopens them). Raises a ``TransitionError`` (French message) otherwise."""
    if any(criterion.call_id != application.call_id for criterion in marks):
        raise DossierError("Ces critères ne sont pas ceux de la grille de cet appel.")
    if any(not 0 <= value <= 5 for value in marks.values()):
        raise DossierError("Chaque critère se note de 0 à 5.")
    locked = record(
        application=application, action=Action.SCORE, by=by, comment=review_comment(marks, comment)
    ).application
    review, _ = Review.objects.update_or_create(
        application=locked,
        reviewer=by,
        defaults={"comment": comment, "score": score_out_of_100(marks)},
    )
    review.scores.all().delete()
    ReviewScore.objects.bulk_create(
        ReviewScore(review=review, criterion=criterion, value=value)
        for criterion, value in marks.items()
    )
    return review


def note_add(*, application: Application, by: User, text: str) -> PrivateNote:
    """Append a private instruction note."""
    return PrivateNote.objects.create(application=application, author=by, text=text)


@transaction.atomic
def application_assign(*, application: Application, assignee: User | None, by: User) -> None:
    """Give the dossier to one of its instructeurs (or to nobody), logged in its hash chain.

    Only the dossier's instructeurs assign it, until the decision (``workflow.RECORDS``);
    assigning it to whoever already has it changes and logs nothing."""
    if assignee is not None and not permissions.can_instruct(assignee, application):
        raise DossierError(f"{assignee.email} n'instruit pas les dossiers de cet appel.")
    current = Application.objects.filter(pk=application.pk).values_list("assignee_id", flat=True)
    if current.get() == (assignee.pk if assignee else None):
        application.assignee = assignee
        return
    comment = f"Dossier affecté à {assignee.email}" if assignee else "Affectation retirée"
    record(application=application, action=Action.ASSIGN, by=by, comment=comment)
    Application.objects.filter(pk=application.pk).update(assignee=assignee)
    application.assignee = assignee


@transaction.atomic
def application_take(
    *,
    application: Application,
    by: User,
    comment: str = "",
    expected_version: int | None = None,
) -> TransitionResult:
    """Take the dossier in instruction (``Action.TAKE``) and, when nobody has it yet, give it
    to the taker: « Prendre en instruction » must not leave the dossier « non affecté ».

    A dossier already assigned keeps its instructeur (the assignment was somebody's choice);
    a taker who may not instruct it (never the case in the table, kept as a safety) takes it
    without being assigned. The assignment is logged after the transition, in its transaction."""
    result = transition(
        application=application,
        action=Action.TAKE,
        by=by,
        comment=comment,
        expected_version=expected_version,
    )
    taken = result.application
    if taken.assignee_id is None and permissions.can_instruct(by, taken):
        application_assign(application=taken, assignee=by, by=by)
    application.status = taken.status
    application.version = taken.version
    application.assignee = taken.assignee
    return result


@transaction.atomic
def complement_request(
    *,
    application: Application,
    by: User,
    message: str,
    expected_items: str,
    deadline: datetime.date,
    expected_version: int | None = None,
) -> ComplementRequest:
    """Ask the applicant for complements: the dossier returns to them until they answer."""
    transition(
        application=application,
        action=Action.ASK_COMPLEMENT,
        by=by,
        comment=message,
        expected_version=expected_version,
    )
    return ComplementRequest.objects.create(
        application=application,
        requested_by=by,
        message=message,
        expected_items=expected_items,
        deadline=deadline,
    )


def proposal_lines(
    *, application: Application, quote: QuoteResult | None = None
) -> list[tuple[str, str, int]]:
    """The lines a proposal covers, with their computed amounts: (key, label, computed).

    ``quote`` avoids computing the dossier's quote again when the caller already has it."""
    quote = quote or quote_for(application=application)
    names = dict(application.grappe.memberships.values_list("structure__finess", "structure__name"))
    lines = [
        (
            f"structure:{line.finess}",
            f"{names.get(line.finess, line.finess)} ({line.finess})",
            line.amount,
        )
        for line in quote.structures
    ]
    lines += [
        (f"hardware:{finess}", f"Matériel — gestionnaire {finess}", amount)
        for finess, amount in quote.supports.hardware_by_gestionnaire.items()
    ]
    lines.append(("procurement", "Passation du marché", quote.supports.procurement))
    lines.append(("steering", "Pilotage", quote.supports.steering))
    return lines


@transaction.atomic
def proposal_save(
    *,
    application: Application,
    by: User,
    amounts: dict[str, tuple[int, str]],
    recommendation: str,
    motivation: str,
    expected_version: int,
) -> None:
    """Record proposed amounts (never above the computed ones) and the recommendation, logged
    in the dossier's hash chain. Only the dossier's instructeurs, and only while it is in
    instruction: the proposal is frozen once proposed (``workflow.RECORDS``; a send back reopens
    it). Raises ``DossierError`` or a ``TransitionError`` (French message) otherwise."""
    rows = []
    for key, label, computed in proposal_lines(application=application):
        proposed, reason = amounts.get(key, (computed, ""))
        if proposed > computed:
            raise DossierError(f"{label} : le montant proposé dépasse le montant calculé.")
        rows.append(
            ProposedAmount(
                line=key, label=label, computed=computed, proposed=proposed, reason=reason
            )
        )
    labels = {"accept": "accepter", "reject": "refuser"}
    comment = (
        f"Montant proposé : {format_euros(sum(r.proposed for r in rows))} "
        f"(calculé : {format_euros(sum(r.computed for r in rows))}) — recommandation : "
        f"{labels.get(recommendation, recommendation)}\nMotivation : {motivation}"
    )
    locked = record(
        application=application,
        action=Action.EDIT_PROPOSAL,
        by=by,
        comment=comment,
        expected_version=expected_version,
    ).application
    ProposedAmount.objects.filter(application=locked).delete()
    for row in rows:
        row.application = locked
    ProposedAmount.objects.bulk_create(rows)
    locked.recommendation = recommendation
    locked.motivation = motivation
    locked.version += 1
    locked.save(update_fields=["recommendation", "motivation", "version", "updated_at"])
    application.version = locked.version


def complement_reminders_send(*, today: datetime.date, days_before: int = 3) -> int:
    """E-mail applicants whose complement deadline is near and who have not answered yet
    (through the outbox); returns the number of e-mails queued."""
    due = ComplementRequest.objects.filter(
        answered_at__isnull=True,
        reminder_sent_at__isnull=True,
        deadline__lte=today + datetime.timedelta(days=days_before),
        deadline__gte=today,
        application__status="complement_requested",
    ).select_related("application__grappe")
    sent = 0
    for request in due:
        # The reminder is marked sent and its e-mails recorded in the outbox together; the
        # conditional update makes an overlapping run skip it (each reminder once).
        with transaction.atomic():
            claimed = ComplementRequest.objects.filter(
                pk=request.pk, reminder_sent_at__isnull=True
            ).update(reminder_sent_at=datetime.datetime.now(tz=datetime.UTC))
            if not claimed:
                continue
            for email in sorted(applicant_emails(application=request.application)):
                email_queue_template(
                    "complement_reminder", context={"request": request}, recipients=[email]
                )
                sent += 1
    return sent
