"""Write-side services of the instruction back office (keyword-only, typed)."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from essms_portal.accounts.models import User
from essms_portal.tasks import send_email_task
from funding.services import quote_for

from .models import (
    Application,
    Call,
    ComplementRequest,
    PrivateNote,
    ProposedAmount,
    Review,
    ReviewScore,
    ScoringCriterion,
)
from .workflow import Action, StaleApplication, transition

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


class ReviewError(Exception):
    """A back-office write refused, with a French message for the user."""


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


@transaction.atomic
def review_save(
    *, application: Application, by: User, marks: dict[ScoringCriterion, int], comment: str
) -> Review:
    """Create or replace ``by``'s review of the dossier."""
    review, _ = Review.objects.update_or_create(
        application=application,
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


def application_assign(*, application: Application, assignee: User | None, by: User) -> None:
    """Give the dossier to an instructeur (or to nobody)."""
    Application.objects.filter(pk=application.pk).update(assignee=assignee)
    application.assignee = assignee


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
        application,
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


def proposal_lines(*, application: Application) -> list[tuple[str, str, int]]:
    """The lines a proposal covers, with their computed amounts: (key, label, computed)."""
    quote = quote_for(application)
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
    """Record proposed amounts (never above the computed ones) and the recommendation."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.version != expected_version:
        raise StaleApplication(
            "Ce dossier vient d'être modifié par une autre personne : "
            "vérifiez son nouvel état avant d'enregistrer."
        )
    ProposedAmount.objects.filter(application=locked).delete()
    for key, label, computed in proposal_lines(application=locked):
        proposed, reason = amounts.get(key, (computed, ""))
        if proposed > computed:
            raise ReviewError(f"{label} : le montant proposé dépasse le montant calculé.")
        ProposedAmount.objects.create(
            application=locked,
            line=key,
            label=label,
            computed=computed,
            proposed=proposed,
            reason=reason,
        )
    locked.recommendation = recommendation
    locked.motivation = motivation
    locked.version += 1
    locked.save(update_fields=["recommendation", "motivation", "version", "updated_at"])
    application.version = locked.version


def complement_reminders_send(*, today: datetime.date, days_before: int = 3) -> int:
    """E-mail applicants whose complement deadline is near and who have not answered yet."""
    from .notifications import _applicant_emails

    due = ComplementRequest.objects.filter(
        answered_at__isnull=True,
        reminder_sent_at__isnull=True,
        deadline__lte=today + datetime.timedelta(days=days_before),
        deadline__gte=today,
        application__status="complement_requested",
    ).select_related("application__grappe")
    sent = 0
    for request in due:
        for email in sorted(_applicant_emails(request.application)):
            send_email_task.delay(
                subject=f"Rappel : compléments attendus avant le {request.deadline:%d/%m/%Y}",
                body=(
                    f"Bonjour,\n\nDes compléments sont attendus sur le dossier n° "
                    f"{request.application.pk} avant le {request.deadline:%d/%m/%Y} :\n- "
                    + "\n- ".join(request.expected_list)
                    + "\n"
                ),
                recipients=[email],
            )
            sent += 1
        ComplementRequest.objects.filter(pk=request.pk).update(
            reminder_sent_at=datetime.datetime.now(tz=datetime.UTC)
        )
    return sent


@transaction.atomic
def complement_answer(*, request: ComplementRequest, by: User, answer: str) -> None:
    """The applicant answers a complement request: the dossier goes back to instruction."""
    transition(request.application, action=Action.RESUBMIT, by=by, comment=answer)
    ComplementRequest.objects.filter(pk=request.pk).update(
        answer=answer, answered_at=datetime.datetime.now(tz=datetime.UTC)
    )
