"""Applicant pages for dossiers: edit with a live quote, attachments, submission, receipt,
timeline, messages, complements, withdrawal. Every dossier is loaded through
``applications_visible_to`` so another organisation's dossier is a 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import F
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from essms_portal.http import applicant_required
from essms_portal.http import request_user as _user
from essms_portal.money import EURO_DIGITS, MAX_EUROS
from essms_portal.uploads import served_name
from funding.rules import SupportRequests
from funding.services import NamedQuote, quote_for, quote_with_names_for
from grappes.models import Organisation
from grappes.selectors import grappe_for_member

from .. import permissions
from ..errors import DossierError
from ..forms import MessageForm, VersionedForm
from ..models import Application, Attachment, Decision
from ..selectors import applications_visible_to, calls_open_for_grappe
from ..statuses import Status, action_event
from ..workflow import (
    EDITABLE,
    Action,
    TransitionError,
    can_applicant_act,
    missing_attachments,
    transition,
)
from . import services
from .forms import (
    ApplicationForm,
    AttachmentForm,
    ComplementAnswerForm,
    CreateApplicationForm,
)
from .selectors import decision_summary, quote_rows

# What the dossier pages read of a dossier's relations, loaded with it.
DOSSIER_RELATED = ("grappe__porteur", "call__campaign", "call__region")
# The dossier page's own (``application_detail``): its decision, and not the porteur nor the
# call's region, which it never reads — each join more made PostgreSQL plan the query longer
# than it ran (2 ms against 0.1 ms, #13).
DETAIL_RELATED = ("grappe", "call__campaign", "decision")


def _dossier(
    request: HttpRequest, pk: int, related: tuple[str, ...] = DOSSIER_RELATED
) -> Application:
    """A dossier of the user's grappes with ``related`` loaded, or 404."""
    try:
        return applications_visible_to(user=_user(request)).select_related(*related).get(pk=pk)
    except Application.DoesNotExist:
        raise Http404("Dossier introuvable.") from None


def _organisations(application: Application) -> list[Organisation]:
    return list(
        Organisation.objects.filter(grappe_participations__grappe=application.grappe).order_by(
            "name"
        )
    )


def _application_form(application: Application, data: Any = None) -> ApplicationForm:
    initial: dict[str, Any] = {
        "version": application.version,
        "procurement": int(application.requested_procurement),
        "steering": int(application.requested_steering),
        "justification": application.justification,
    }
    for request in application.hardware_requests.all():
        initial[f"hardware_{request.organisation_id}"] = int(request.amount)
    return ApplicationForm(
        data,
        initial=initial,
        organisations=_organisations(application),
        campaign=application.call.campaign,
    )


def _requests_from(form: ApplicationForm, application: Application) -> SupportRequests:
    """Support requests typed in the form (even with errors), for the live quote."""

    def number(name: str) -> int:
        """The typed amount, within the column's bounds (``1e999999999`` must not build a
        billion-digit integer: the value is checked before it is converted)."""
        try:
            value = Decimal(str(form.data.get(name) or 0))
        except (ArithmeticError, ValueError):
            return 0
        if not value.is_finite() or value < 0:
            return 0
        if value.adjusted() >= EURO_DIGITS:
            return MAX_EUROS
        return int(value)

    return SupportRequests(
        hardware={
            o.finess: number(f"hardware_{o.pk}")
            for o in form.organisations
            if number(f"hardware_{o.pk}")
        },  # type: ignore[attr-defined]
        procurement=number("procurement"),
        steering=number("steering"),
    )


@applicant_required
def application_create(request: HttpRequest, grappe_pk: int) -> HttpResponse:
    """Open a dossier for the grappe on an open call."""
    grappe = grappe_for_member(user=_user(request), pk=grappe_pk)
    calls = calls_open_for_grappe(grappe=grappe)
    form = CreateApplicationForm(request.POST or None, calls=calls)
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_create(
                grappe=grappe, call=form.cleaned_data["call"], by=_user(request)
            )
        except DossierError as error:
            form.add_error("call", error.message)
        else:
            return redirect("dossiers:detail", pk=application.pk)
    return render(
        request,
        "espace/application_create.html",
        {
            "title": "Nouveau dossier",
            "form": form,
            "grappe": grappe,
            # The size thresholds shown are those of the open calls' campaign.
            "campaign": next((call.campaign for call in calls), None),
        },
    )


def _quote_context(named: NamedQuote) -> dict[str, Any]:
    """The quote and its ESSMS lines with their names (``espace/_quote.html``)."""
    return {"quote": named.quote, "quote_rows": quote_rows(quote=named.quote, names=named.names)}


def _context(request: HttpRequest, application: Application, **extra: Any) -> dict[str, Any]:
    """The dossier page's context. What the page draws depends on the dossier's state
    (``espace/application.html``), and only that is computed: the requests form while the
    dossier is editable, the quote while no decision replaces it or in a draft's submission box,
    the missing attachments in a draft's. A decided dossier's page builds no quote (issue #13);
    tests/applications/test_applicant_dossier_page.py renders every state against the full
    context."""
    user = _user(request)
    decision = _decision_of(application)
    editable = permissions.can_edit_dossier(user, application)
    can_upload = permissions.can_upload_attachment(user, application)
    draft = application.status == Status.DRAFT
    form = extra.pop("form", None) or (_application_form(application) if editable else None)
    quote = extra.pop("quote", None)
    if quote is None and (decision is None or draft):
        quote = quote_with_names_for(application=application)
    attachments = list(application.attachments.select_related("membership__structure"))
    return {
        **(_quote_context(quote) if quote is not None else {}),
        "title": f"Dossier n° {application.pk}",
        "application": application,
        "form": form,
        # What the page offers is what the policy allows (applications.permissions).
        "editable": editable,
        "can_upload": can_upload,
        "can_message": permissions.can_post_message(user, application),
        "can_withdraw": can_applicant_act(user, application, Action.WITHDRAW),
        "can_answer": can_applicant_act(user, application, Action.RESUBMIT),
        "attachment_form": extra.pop("attachment_form", None)
        or (
            AttachmentForm(memberships=application.grappe.memberships.select_related("structure"))
            if can_upload
            else None
        ),
        "attachments": [
            (attachment, services.attachment_deletable(attachment=attachment, by=user))
            for attachment in attachments
        ],
        "missing": missing_attachments(application=application) if draft else [],
        "unconfirmed": application.grappe.organisations.filter(
            confirmed_at__isnull=True
        ).select_related("organisation"),
        "can_submit": can_applicant_act(user, application, Action.SUBMIT),
        # Applicants see the status changes; scores and other instruction records stay in the
        # back office.
        # Each entry is labelled as the event it records ("Dossier déposé"), not as the verb of
        # the button that caused it (``statuses.ACTION_EVENTS``, shared with the back office).
        "log": [
            (entry, action_event(entry.action))
            for entry in application.log_entries.exclude(from_status=F("to_status")).order_by("id")
        ],
        "messages_list": application.messages.select_related("author"),
        "message_form": MessageForm(),
        "complement": application.complement_requests.filter(answered_at__isnull=True).first(),
        "answer_form": ComplementAnswerForm(initial={"version": application.version}),
        "submit_form": VersionedForm(initial={"version": application.version}),
        "decision": decision,
        # What was granted, from the decision's snapshot: the page stops showing the quote.
        "decided": decision_summary(decision=decision) if decision else None,
        **extra,
    }


@applicant_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The dossier page; POST saves the requests (kept even when the quote has errors)."""
    application = _dossier(request, pk, DETAIL_RELATED)
    if request.method == "POST":
        form = _application_form(application, request.POST)
        if form.is_valid():
            try:
                services.application_update(
                    application=application,
                    by=_user(request),
                    procurement=form.cleaned_data["procurement"],
                    steering=form.cleaned_data["steering"],
                    justification=form.cleaned_data["justification"],
                    hardware=form.hardware(),
                    expected_version=form.cleaned_data["version"],
                )
            except TransitionError as error:  # stale version
                messages.error(request, error.message)
            except DossierError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, "Dossier enregistré.")
            return redirect("dossiers:detail", pk=application.pk)
        quote = quote_with_names_for(
            application=application, requests=_requests_from(form, application)
        )
        return render(
            request,
            "espace/application.html",
            _context(request, application, form=form, quote=quote),
            status=400,
        )
    return render(request, "espace/application.html", _context(request, application))


def _decision_of(application: Application) -> Decision | None:
    """The dossier's decision, or None (no query when it was loaded with the dossier)."""
    try:
        return application.decision
    except Decision.DoesNotExist:
        return None


@applicant_required
@require_POST
def live_quote(request: HttpRequest, pk: int) -> HttpResponse:
    """The quote of the values being typed (HTML fragment), without saving anything."""
    application = _dossier(request, pk)
    form = _application_form(application, request.POST)
    quote = quote_with_names_for(
        application=application, requests=_requests_from(form, application)
    )
    return render(request, "espace/_quote.html", _quote_context(quote))


@applicant_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    application = _dossier(request, pk)
    if not permissions.can_upload_attachment(_user(request), application):
        messages.error(
            request,
            "Ce dossier est déposé : ajoutez vos pièces en réponse à une demande de compléments."
            if application.status not in EDITABLE
            else "Vous ne pouvez pas ajouter de pièce à ce dossier.",
        )
        return redirect("dossiers:detail", pk=pk)
    form = AttachmentForm(
        request.POST,
        request.FILES,
        memberships=application.grappe.memberships.select_related("structure"),
    )
    if not form.is_valid():
        messages.error(request, "La pièce n'a pas été ajoutée : voir l'erreur sous le champ.")
        return render(
            request,
            "espace/application.html",
            _context(request, application, attachment_form=form),
            status=400,
        )
    try:
        services.attachment_add(
            application=application,
            by=_user(request),
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
            membership=form.cleaned_data["membership"],
        )
    except DossierError as error:
        messages.error(request, error.message)
        return redirect("dossiers:detail", pk=pk)
    except ValidationError as error:
        form.add_error("file", error)
        return render(
            request,
            "espace/application.html",
            _context(request, application, attachment_form=form),
            status=400,
        )
    messages.success(request, "Pièce ajoutée.")
    return redirect("dossiers:detail", pk=pk)


@require_GET
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """Serve a private file after loading its dossier through the user's scope."""
    # applications_visible_to is the applicant's grappes, or the back-office scope.
    application = get_object_or_404(applications_visible_to(user=_user(request)), pk=pk)
    attachment = get_object_or_404(Attachment, application=application, pk=attachment_pk)
    response = FileResponse(
        default_storage.open(attachment.file.name, "rb"),
        content_type=attachment.content_type,
        as_attachment=True,
        # The extension follows the served type, also for files stored before names did.
        filename=served_name(attachment.original_name, attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@applicant_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    application = _dossier(request, pk)
    form = VersionedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Rechargez la page avant de déposer le dossier.")
        return redirect("dossiers:detail", pk=pk)
    try:
        services.application_submit(
            application=application,
            by=_user(request),
            expected_version=form.cleaned_data["version"],
        )
    except DossierError as error:
        messages.error(request, error.message)
        return redirect("dossiers:detail", pk=pk)
    messages.success(request, "Dossier déposé. Votre récépissé est disponible ci-dessous.")
    return redirect("dossiers:receipt", pk=pk)


@applicant_required
@require_GET
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable deposit receipt with the submission date and a summary."""
    application = _dossier(request, pk)
    if application.submitted_at is None:
        raise Http404("Ce dossier n'a pas encore été déposé.")
    return render(
        request,
        "espace/receipt.html",
        {
            "title": f"Récépissé de dépôt — dossier n° {application.pk}",
            "application": application,
            "quote": quote_for(application=application),
            "memberships": application.grappe.memberships.select_related("structure"),
            "attachments": application.attachments.all(),
        },
    )


@applicant_required
@require_POST
def post_message(request: HttpRequest, pk: int) -> HttpResponse:
    application = _dossier(request, pk)
    form = MessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Le message est vide.")
        return redirect("dossiers:detail", pk=pk)
    try:
        services.message_post(
            application=application, by=_user(request), text=form.cleaned_data["text"]
        )
    except DossierError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Message envoyé.")
    return redirect("dossiers:detail", pk=pk)


@applicant_required
@require_POST
def answer_complement(request: HttpRequest, pk: int) -> HttpResponse:
    application = _dossier(request, pk)
    complement = application.complement_requests.filter(answered_at__isnull=True).first()
    form = ComplementAnswerForm(request.POST)
    if complement is None or not form.is_valid():
        messages.error(request, "Saisissez votre réponse à la demande de compléments.")
        return redirect("dossiers:detail", pk=pk)
    try:
        services.complement_answer(
            request=complement, by=_user(request), answer=form.cleaned_data["answer"]
        )
    except TransitionError as error:
        messages.error(request, error.message)
        return redirect("dossiers:detail", pk=pk)
    messages.success(request, "Réponse envoyée : le dossier repart en instruction.")
    return redirect("dossiers:detail", pk=pk)


@applicant_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdrawing is irreversible: GET asks for confirmation, POST withdraws."""
    application = _dossier(request, pk)
    if request.method == "GET":
        if not can_applicant_act(_user(request), application, Action.WITHDRAW):
            messages.error(request, "Vous ne pouvez pas retirer ce dossier.")
            return redirect("dossiers:detail", pk=pk)
        return render(
            request,
            "espace/confirm.html",
            {
                "title": f"Retirer le dossier n° {application.pk}",
                "application": application,
                "question": f"Retirer le dossier n° {application.pk} — {application.grappe.name} ?",
                "consequences": [
                    "Le retrait est définitif : le dossier ne pourra plus être déposé ni instruit.",
                    "Pour demander un financement sur cet appel, il faudra l'accord de "
                    "l'instruction : un seul dossier par grappe et par appel.",
                ],
                "action_url": reverse("dossiers:withdraw", kwargs={"pk": application.pk}),
                "confirm_label": "Retirer définitivement le dossier",
                "cancel_url": reverse("dossiers:detail", kwargs={"pk": application.pk}),
            },
        )
    try:
        transition(application=application, action=Action.WITHDRAW, by=_user(request))
    except TransitionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Dossier retiré.")
    return redirect("dossiers:detail", pk=pk)


@applicant_required
@require_http_methods(["GET", "POST"])
def attachment_delete(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """Delete a wrong attachment while the dossier is editable: GET asks for confirmation,
    POST deletes (``services.attachment_delete`` checks who and when)."""
    application = _dossier(request, pk)
    attachment = get_object_or_404(Attachment, application=application, pk=attachment_pk)
    user = _user(request)
    if not services.attachment_deletable(attachment=attachment, by=user):
        messages.error(request, "Vous ne pouvez pas supprimer cette pièce.")
        return redirect("dossiers:detail", pk=pk)
    if request.method == "GET":
        return render(
            request,
            "espace/confirm.html",
            {
                "title": "Supprimer une pièce jointe",
                "application": application,
                "question": f"Supprimer la pièce « {attachment.original_name} » "
                f"({attachment.get_kind_display()}) ?",
                "consequences": ["Le fichier est supprimé : il faudra le déposer à nouveau."],
                "action_url": request.path,
                "confirm_label": "Supprimer la pièce",
                "cancel_url": reverse("dossiers:detail", kwargs={"pk": application.pk}) + "#pieces",
            },
        )
    try:
        services.attachment_delete(attachment=attachment, by=user)
    except DossierError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Pièce « {attachment.original_name} » supprimée.")
    return redirect(reverse("dossiers:detail", kwargs={"pk": pk}) + "#pieces")
