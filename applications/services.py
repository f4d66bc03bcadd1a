"""Write-side services of the instruction back office (keyword-only, typed)."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from essms_portal.accounts.models import User
from essms_portal.tasks import send_email_task
from funding.rules import QuoteResult
from funding.services import quote_for
from grappes.models import GrappeMembership

from .models import (
    Application,
    Attachment,
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


def proposal_lines(
    *, application: Application, quote: QuoteResult | None = None
) -> list[tuple[str, str, int]]:
    """The lines a proposal covers, with their computed amounts: (key, label, computed).

    ``quote`` avoids computing the dossier's quote again when the caller already has it."""
    quote = quote or quote_for(application)
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
    from .notifications import applicant_emails

    due = ComplementRequest.objects.filter(
        answered_at__isnull=True,
        reminder_sent_at__isnull=True,
        deadline__lte=today + datetime.timedelta(days=days_before),
        deadline__gte=today,
        application__status="complement_requested",
    ).select_related("application__grappe")
    sent = 0
    for request in due:
        for email in sorted(applicant_emails(request.application)):
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


REQUIRED_ATTACHMENTS = {
    "convention": "la convention de grappe signée",
    "quote": "au moins un devis",
}
EDITABLE_STATUSES = ("draft", "complement_requested")


def application_create(*, grappe: object, call: Call, by: User) -> Application:
    """Open a draft dossier for the grappe on an open call that matches it."""
    from grappes.models import Grappe

    from .selectors import calls_open, calls_open_for_grappe

    assert isinstance(grappe, Grappe)
    if not calls_open().filter(pk=call.pk).exists():
        raise ReviewError("Cet appel à projets n'est pas ouvert.")
    if not calls_open_for_grappe(grappe=grappe).filter(pk=call.pk).exists():
        raise ReviewError(
            "Cet appel régional n'est pas celui de la région de la plupart des "
            "ESSMS de la grappe : choisissez l'appel de leur région ou l'appel "
            "national."
        )
    if Application.objects.filter(grappe=grappe, call=call).exists():
        raise ReviewError("Cette grappe a déjà un dossier sur cet appel.")
    return Application.objects.create(grappe=grappe, call=call, created_by=by)


def application_is_editable(application: Application) -> bool:
    """Applicants edit a draft, or a dossier whose complements were requested."""
    return application.status in EDITABLE_STATUSES


@transaction.atomic
def application_update(
    *,
    application: Application,
    by: User,
    procurement: int,
    steering: int,
    justification: str,
    hardware: dict[int, int],
    expected_version: int,
) -> Application:
    """Save the support requests (saved even when the quote has errors: nothing typed is lost).

    The row is locked and its version checked, like every write on a dossier."""
    from .models import HardwareRequest

    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.version != expected_version:
        raise StaleApplication(
            "Ce dossier a été modifié entre-temps : vérifiez les montants affichés puis "
            "enregistrez à nouveau."
        )
    if not application_is_editable(locked):
        raise ReviewError("Ce dossier est déposé : il n'est plus modifiable.")
    application.version = locked.version
    application.requested_procurement = Decimal(procurement)
    application.requested_steering = Decimal(steering)
    application.justification = justification
    application.version += 1
    application.save(
        update_fields=[
            "requested_procurement",
            "requested_steering",
            "justification",
            "version",
            "updated_at",
        ]
    )
    application.hardware_requests.all().delete()
    HardwareRequest.objects.bulk_create(
        HardwareRequest(application=application, organisation_id=org_id, amount=Decimal(amount))
        for org_id, amount in hardware.items()
        if amount
    )
    return application


def attachment_add(
    *,
    application: Application,
    by: User,
    kind: str,
    upload: UploadedFile,
    membership: GrappeMembership | None = None,
) -> Attachment:
    """Store a checked upload privately and attach it to the dossier."""
    from django.core.files.storage import default_storage

    from essms_portal.uploads import private_path, sanitised_name, validate_upload

    content_type = validate_upload(upload)
    name = sanitised_name(upload.name or "document")
    stored = default_storage.save(private_path(f"dossiers/{application.pk}", name), upload)
    return Attachment.objects.create(
        application=application,
        kind=kind,
        membership=membership,
        file=stored,
        original_name=name,
        content_type=content_type,
        size=upload.size or 0,
        uploaded_by=by,
    )


def missing_attachments(application: Application) -> list[str]:
    """The required attachment kinds the dossier lacks, as French phrases."""
    present = set(application.attachments.values_list("kind", flat=True))
    missing = [label for kind, label in REQUIRED_ATTACHMENTS.items() if kind not in present]
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


@transaction.atomic
def application_submit(*, application: Application, by: User, expected_version: int) -> None:
    """Submit the dossier: attachments present, then the workflow's own guards."""
    missing = missing_attachments(application)
    if missing:
        raise ReviewError("Pièces manquantes : " + " ; ".join(missing) + ".")
    transition(application, action=Action.SUBMIT, by=by, expected_version=expected_version)


def message_post(*, application: Application, by: User, text: str) -> object:
    """A message between applicant and instruction (visible to both)."""
    from .models import Message

    return Message.objects.create(application=application, author=by, text=text)
