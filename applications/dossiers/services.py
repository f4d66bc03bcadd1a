"""Write-side services of the applicant's dossier (keyword-only, typed): creation, support
requests, attachments, submission, complement answers, messages."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from essms_portal.accounts.models import User
from essms_portal.antivirus import scan_upload
from essms_portal.quotes_version import quotes_changed
from essms_portal.uploads import private_path, sanitised_name, stored_name, validate_upload
from grappes.models import Grappe, GrappeMembership

from .. import permissions
from ..errors import DossierError, require
from ..models import (
    Application,
    Attachment,
    Call,
    ComplementRequest,
    HardwareRequest,
    Message,
)
from ..selectors import calls_open, calls_open_for_grappe
from ..workflow import EDITABLE, Action, StaleApplication, transition


@transaction.atomic
def complement_answer(*, request: ComplementRequest, by: User, answer: str) -> None:
    """The applicant answers a complement request: the dossier goes back to instruction."""
    transition(application=request.application, action=Action.RESUBMIT, by=by, comment=answer)
    ComplementRequest.objects.filter(pk=request.pk).update(
        answer=answer, answered_at=datetime.datetime.now(tz=datetime.UTC)
    )


def application_create(*, grappe: Grappe, call: Call, by: User) -> Application:
    """Open a draft dossier for the grappe on an open call that matches it."""
    require(
        permissions.can_create_dossier(by, grappe),
        "Seul un membre confirmé de l'organisme porteur ouvre un dossier pour la grappe.",
    )
    if not calls_open().filter(pk=call.pk).exists():
        raise DossierError("Cet appel à projets n'est pas ouvert.")
    if not calls_open_for_grappe(grappe=grappe).filter(pk=call.pk).exists():
        raise DossierError(
            "Cet appel régional n'est pas celui de la région de la plupart des "
            "ESSMS de la grappe : choisissez l'appel de leur région ou l'appel "
            "national."
        )
    if Application.objects.filter(grappe=grappe, call=call).exists():
        raise DossierError("Cette grappe a déjà un dossier sur cet appel.")
    return Application.objects.create(grappe=grappe, call=call, created_by=by)


def application_is_editable(*, application: Application) -> bool:
    """Applicants edit a draft, or a dossier whose complements were requested."""
    return application.status in EDITABLE


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
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.version != expected_version:
        raise StaleApplication(
            "Ce dossier a été modifié entre-temps : vérifiez les montants affichés puis "
            "enregistrez à nouveau."
        )
    if not application_is_editable(application=locked):
        raise DossierError("Ce dossier est déposé : il n'est plus modifiable.")
    require(
        permissions.can_edit_dossier(by, locked),
        "Seuls les membres confirmés de l'organisme porteur modifient les demandes du dossier.",
    )
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
    # A complement_requested dossier counts as submitted: its cached quote is stale.
    quotes_changed()
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
    require(
        permissions.can_upload_attachment(by, application),
        "Vous ne pouvez pas ajouter de pièce à ce dossier.",
    )
    checked = validate_upload(upload)
    # Scanned before anything is stored: an infected file (or, when the antivirus is required,
    # one clamd cannot scan) raises a ValidationError and leaves no row and no file.
    scan_upload(upload, name=sanitised_name(upload.name or "document"))
    # The name carries the extension of the detected type, never the one the user typed.
    name = stored_name(upload.name or "document", checked.extension)
    stored = default_storage.save(private_path(f"dossiers/{application.pk}", name), upload)
    return Attachment.objects.create(
        application=application,
        kind=kind,
        membership=membership,
        file=stored,
        original_name=name,
        content_type=checked.content_type,
        size=upload.size or 0,
        uploaded_by=by,
    )


def attachment_deletable(*, attachment: Attachment, by: User) -> bool:
    """Whether ``by`` may delete ``attachment`` now (the page asks what the service checks)."""
    return permissions.can_delete_attachment(by, attachment)


@transaction.atomic
def attachment_delete(*, attachment: Attachment, by: User) -> None:
    """Delete a wrong attachment while the dossier is editable. The dossier row is locked so a
    concurrent submission cannot take the attachment's absence or presence for granted; the
    file goes once the deletion is committed (a rollback keeps both)."""
    application = Application.objects.select_for_update().get(pk=attachment.application_id)
    current = Attachment.objects.filter(pk=attachment.pk, application=application).first()
    if current is None:
        raise DossierError("Cette pièce a déjà été supprimée.")
    attachment = current
    attachment.application = application
    if application.status not in EDITABLE:
        raise DossierError("Ce dossier est déposé : ses pièces ne se suppriment plus.")
    require(
        permissions.can_delete_attachment(by, attachment),
        "Seuls l'auteur de la pièce et les membres confirmés du porteur la suppriment.",
    )
    name = attachment.file.name
    attachment.delete()
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))


@transaction.atomic
def application_submit(*, application: Application, by: User, expected_version: int) -> None:
    """Submit the dossier: every condition (attachments, quote, confirmations) is the
    workflow's submit guard, the same for a resubmission (``workflow._guard_submittable``)."""
    transition(
        application=application, action=Action.SUBMIT, by=by, expected_version=expected_version
    )


def message_post(*, application: Application, by: User, text: str) -> object:
    """A message between applicant and instruction (visible to both): from a confirmed member
    of the grappe, or from whoever instructs the dossier."""
    require(
        permissions.can_post_message(by, application) or permissions.can_instruct(by, application),
        "Vous ne pouvez pas écrire sur ce dossier.",
    )

    return Message.objects.create(application=application, author=by, text=text)
