"""Follow-up screens: the back office's queue and grant page, the porteur's follow-up page.
Thin: each view loads through a scoped selector and calls one service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from applications.http import back_office
from applications.models import Campaign
from applications.reporting.dashboard import dashboard_campaign
from essms_portal.errors import UserError
from essms_portal.http import applicant_required, request_user
from essms_portal.uploads import ALLOWED_TYPES

from . import selectors, services
from .amendments import amendment_cancel, amendment_draft_blocker, amendment_validate
from .amendments import amendment_draft as amendment_draft_service
from .documents import amendment_pdf as amendment_document
from .documents import convention_pdf as convention_document
from .exports import BATCH_FORMATS, batch_file
from .forms import (
    AmendmentForm,
    BankDetailsForm,
    MeasurementDeclarationForm,
    MeasurementReviewForm,
    MeasurementsFileForm,
    PaidForm,
    SignedConventionForm,
)
from .measurements import (
    ImportRejected,
    measurement_declarable,
    measurement_declare,
    measurement_review,
    measurements_import,
)
from .models import Amendment, BankDetails, Convention, PaymentOrder
from .permissions import (
    can_cancel_amendment,
    can_close_grant,
    can_declare_measurement,
    can_draft_amendment,
    can_enter_bank_details,
    can_follow_up,
    can_sign_convention,
    can_transmit_orders,
    can_validate_amendment,
    convention_open_to_signature,
    grant_close_blocker,
    measurement_declare_blocker,
    settlement_blocker,
)
from .reminders import porteur_todo
from .reporting import usage_targets_overview
from .settlement import second_tranche_settle, settlement_preview

QUEUE_PAGE_SIZE = 50


def _form_error(form: Any, error: UserError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


# --------------------------------------------------------------------------------------------
# Back office
# --------------------------------------------------------------------------------------------


@require_GET
@back_office
def queue(request: HttpRequest) -> HttpResponse:
    """Granted dossiers of the agent's scope and what each waits for; closed ones (nothing left
    to act on) apart, behind ``?etat=soldes``."""
    user = request_user(request)
    closed = request.GET.get("etat") == "soldes"
    rows = selectors.follow_up_queue(user=user, closed=closed)
    page = Paginator(rows, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows_shown = [
        (application, selectors.CONVENTION_STATUS_LABELS.get(application.convention_status, ""))  # type: ignore[attr-defined]
        for application in page
    ]
    return render(
        request,
        "grants/queue.html",
        {
            "title": "Suivi des financements",
            "page": page,
            "rows": rows_shown,
            "querystring": "etat=soldes" if closed else "",
            "closed": closed,
            "closed_count": 0 if closed else selectors.grants_closed(user=user).count(),
            "can_transmit": can_transmit_orders(user),
        },
    )


@require_GET
@back_office
def targets(request: HttpRequest) -> HttpResponse:
    """Usage targets of a campaign in the agent's scope: share of funded ESSMS meeting each
    target per region and sector, active DUI against the national target."""
    campaign = dashboard_campaign(year=request.GET.get("campagne"))
    return render(
        request,
        "grants/targets.html",
        {
            "title": "Cibles d'usage",
            "overview": usage_targets_overview(user=request_user(request), campaign=campaign),
            "campaigns": Campaign.objects.order_by("-year"),
        },
    )


def _grant_context(request: HttpRequest, application: Any) -> dict[str, Any]:
    user = request_user(request)
    convention = selectors.grant_convention(application=application)
    preview = None
    settle_blocker = None
    if convention and convention.status == Convention.Status.COUNTERSIGNED:
        settle_blocker = settlement_blocker(convention=convention, today=timezone.localdate())
    if (
        convention
        and convention.status == Convention.Status.COUNTERSIGNED
        and not (selectors.settlement_computed(convention))
    ):
        try:
            preview = settlement_preview(convention=convention)
        except ValueError:  # the rules refuse inconsistent data: shown as unavailable
            preview = None
    return {
        "application": application,
        "decision": application.decision,
        "convention": convention,
        "schedule": selectors.grant_schedule(application=application),
        "bank_details": list(
            BankDetails.objects.filter(application=application).order_by("-entered_at")
        ),
        "orders": list(PaymentOrder.objects.filter(application=application).order_by("issued_at")),
        "measurements": list(selectors.grant_measurements(application=application)[:200]),
        "log": list(selectors.grant_log(application=application)),
        "preview": preview,
        "settle_blocker": settle_blocker,
        "can_follow_up": can_follow_up(user, application),
        "can_close": convention is not None and can_close_grant(user, convention),
        "close_blocker": grant_close_blocker(convention=convention)
        if convention is not None and convention.status == Convention.Status.COUNTERSIGNED
        else None,
        "review_form": MeasurementReviewForm(),
        "paid_form": PaidForm(),
        **_amendments_context(user, application, convention),
    }


def _amendments_context(user: Any, application: Any, convention: Any) -> dict[str, Any]:
    """The convention's amendments, each with what the agent may do on it, and whether an
    amendment may be prepared (the same predicates as the services)."""
    rows = [
        (
            amendment,
            amendment.status == Amendment.Status.DRAFTED
            and can_validate_amendment(user, application, drafted_by_id=amendment.drafted_by_id),
            amendment.status == Amendment.Status.DRAFTED
            and can_cancel_amendment(user, application, drafted_by_id=amendment.drafted_by_id),
        )
        for amendment in (selectors.grant_amendments(convention=convention) if convention else [])
    ]
    return {
        "amendments": rows,
        "can_draft_amendment": convention is not None
        and can_draft_amendment(user, application)
        and amendment_draft_blocker(convention=convention) is None,
        "amendment_form": _amendment_form(convention),
    }


@require_GET
@back_office
def grant(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.grant_for_follow_up(user=request_user(request), pk=pk)
    context = _grant_context(request, application)
    context["title"] = f"Suivi du dossier n° {application.pk}"
    return render(request, "grants/grant.html", context)


def _act(request: HttpRequest, pk: int, action: Any, success: str) -> HttpResponse:
    """Run one follow-up service for the agent on the dossier; message and back to the page."""
    user = request_user(request)
    application = selectors.grant_for_follow_up(user=user, pk=pk)
    if not can_follow_up(user, application):  # administrators read, never act
        raise PermissionDenied("Seuls l'ARS de la région (la CNSA pour l'appel national) agissent.")
    try:
        action(user, application)
    except UserError as error:
        messages.error(request, error.message)
    else:
        if success:
            messages.success(request, success)
    return redirect("grants:grant", pk=application.pk)


@require_POST
@back_office
def convention_draft(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda user, application: services.convention_draft(decision=application.decision, by=user),
        "Convention rédigée : le porteur peut la télécharger, la signer et la déposer.",
    )


def _convention_of(application: Any) -> Convention:
    convention = selectors.grant_convention(application=application)
    if convention is None:
        raise UserError("La convention n'est pas encore rédigée.")
    return convention


@require_POST
@back_office
def convention_countersign(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda user, application: services.convention_countersign(
            convention=_convention_of(application), by=user
        ),
        "Convention contresignée : l'ordre de paiement de la première tranche est émis.",
    )


@require_POST
@back_office
def bank_validate(request: HttpRequest, pk: int, details_pk: int) -> HttpResponse:
    accept = request.POST.get("accept") == "1"

    def validate(user: Any, application: Any) -> None:
        details = get_object_or_404(BankDetails, pk=details_pk, application=application)
        services.bank_details_validate(details=details, by=user, accept=accept)

    return _act(
        request,
        pk,
        validate,
        "Coordonnées bancaires validées." if accept else "Modification refusée.",
    )


@require_POST
@back_office
def measurement_check(request: HttpRequest, pk: int, measurement_pk: int) -> HttpResponse:
    form = MeasurementReviewForm(request.POST)

    def check(user: Any, application: Any) -> None:
        measurement = get_object_or_404(
            selectors.grant_measurements(application=application), pk=measurement_pk
        )
        if not form.is_valid():
            raise UserError("Choisissez « Valider » ou « Rejeter ».")
        measurement_review(
            measurement=measurement,
            by=user,
            validated=form.cleaned_data["decision"] == "validate",
            comment=form.cleaned_data["comment"],
        )

    return _act(request, pk, check, "Mesure vérifiée.")


@require_POST
@back_office
def order_paid(request: HttpRequest, pk: int, order_pk: int) -> HttpResponse:
    form = PaidForm(request.POST)

    def mark(user: Any, application: Any) -> None:
        order = get_object_or_404(PaymentOrder, pk=order_pk, application=application)
        if not form.is_valid():
            raise UserError("Indiquez la date du paiement (JJ/MM/AAAA).")
        services.payment_order_mark_paid(order=order, by=user, paid_on=form.cleaned_data["paid_on"])
        if order.kind == PaymentOrder.Kind.RECOVERY:
            messages.success(request, "Recouvrement enregistré.")
        else:
            messages.success(request, "Paiement enregistré.")

    return _act(request, pk, mark, "")


@require_POST
@back_office
def grant_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda user, application: services.grant_close(
            convention=_convention_of(application), by=user
        ),
        "Dossier soldé : il quitte la liste des subventions à suivre.",
    )


@require_GET
@back_office
def settle_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation page before computing the second tranche (once, irreversible): what the
    rules give today and why, a button that posts to ``settle``, a way back. Refused with the
    service's own reason (``settlement_blocker``) when it cannot be computed now."""
    user = request_user(request)
    application = selectors.grant_for_follow_up(user=user, pk=pk)
    if not can_follow_up(user, application):  # administrators read, never act
        raise PermissionDenied("Seuls l'ARS de la région (la CNSA pour l'appel national) agissent.")
    convention = _convention_of(application)
    blocker = settlement_blocker(convention=convention, today=timezone.localdate())
    if blocker:
        messages.error(request, blocker)
        return redirect("grants:grant", pk=application.pk)
    return render(
        request,
        "grants/settle_confirm.html",
        {
            "title": "Confirmer le calcul de la seconde tranche",
            "application": application,
            "preview": settlement_preview(convention=convention),
            "schedule": selectors.grant_schedule(application=application),
        },
    )


@require_POST
@back_office
def settle(request: HttpRequest, pk: int) -> HttpResponse:
    outcome: list[PaymentOrder | None] = []

    def compute(user: Any, application: Any) -> None:
        outcome.append(second_tranche_settle(convention=_convention_of(application), by=user))

    response = _act(request, pk, compute, "")
    if outcome:
        order = outcome[0]
        messages.success(
            request,
            f"Seconde tranche calculée : {order.get_kind_display().lower()} n° {order.number} émis."
            if order
            else "Seconde tranche calculée : rien à verser ni à reverser.",
        )
    return response


def _amendment_form(convention: Convention | None, data: Any = None) -> AmendmentForm:
    """The amendment form, its « leaving » checkboxes listing the grant's lines in force."""
    lines = selectors.grant_effective_snapshot(convention=convention)["lines"] if convention else []
    return AmendmentForm(data, lines=lines)


def _amendment_of(application: Any, amendment_pk: int) -> Amendment:
    return get_object_or_404(
        Amendment, pk=amendment_pk, convention__decision__application=application
    )


@require_POST
@back_office
def amendment_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """Prepare an amendment (avenant): a reason, the ESSMS leaving and joining; a refusal comes
    back next to its field (400)."""
    user = request_user(request)
    application = selectors.grant_for_follow_up(user=user, pk=pk)
    if not can_draft_amendment(user, application):  # administrators read, never act
        raise PermissionDenied("Seuls l'ARS de la région (la CNSA pour l'appel national) agissent.")
    form = _amendment_form(selectors.grant_convention(application=application), request.POST)
    if form.is_valid():
        try:
            amendment = amendment_draft_service(
                convention=_convention_of(application),
                by=user,
                reason=form.cleaned_data["reason"],
                leaving=form.cleaned_data["leaving"],
                joining=form.cleaned_data["joining"],
            )
        except UserError as error:
            if error.field not in form.fields:
                messages.error(request, error.message)
                return redirect("grants:grant", pk=application.pk)
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"Avenant n° {amendment.number} préparé : un valideur qui ne l'a pas préparé "
                "doit le valider.",
            )
            return redirect("grants:grant", pk=application.pk)
    context = _grant_context(request, application)
    context.update(title=f"Suivi du dossier n° {application.pk}", amendment_form=form)
    return render(request, "grants/grant.html", context, status=400)


@require_POST
@back_office
def amendment_validation(request: HttpRequest, pk: int, amendment_pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda user, application: amendment_validate(
            amendment=_amendment_of(application, amendment_pk), by=user
        ),
        "Avenant validé : ses montants s'appliquent au financement et à l'échéancier.",
    )


@require_POST
@back_office
def amendment_cancellation(request: HttpRequest, pk: int, amendment_pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda user, application: amendment_cancel(
            amendment=_amendment_of(application, amendment_pk), by=user
        ),
        "Avenant annulé.",
    )


# --------------------------------------------------------------------------------------------
# Batches of payment orders (bordereaux)
# --------------------------------------------------------------------------------------------


@require_POST
@back_office
def batch_create(request: HttpRequest) -> HttpResponse:
    """Transmit the issued orders of the agent's scope: one batch per campaign and region (the
    batch's page, or the list when several); nothing to transmit: back to the queue."""
    user = request_user(request)
    if not can_transmit_orders(user):  # administrators read, never act
        raise PermissionDenied("Seuls les agents ARS et CNSA transmettent les ordres.")
    try:
        batches = services.payment_batch_create(user=user)
    except UserError as error:
        messages.info(request, error.message)
        return redirect("grants:queue")
    orders = sum(batch.order_count for batch in batches)
    numbers = ", ".join(batch.number for batch in batches)
    plural = "x" if len(batches) > 1 else ""
    messages.success(
        request, f"{orders} ordre(s) transmis au service financier : bordereau{plural} {numbers}."
    )
    if len(batches) == 1:
        return redirect("grants:batch", pk=batches[0].pk)
    return redirect("grants:batches")


@require_GET
@back_office
def batches(request: HttpRequest) -> HttpResponse:
    """The batches of orders transmitted from the agent's scope, latest first."""
    rows = selectors.payment_batches_visible_to(user=request_user(request))
    page = Paginator(rows, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "grants/batches.html",
        {"title": "Bordereaux d'ordres transmis", "page": page, "querystring": ""},
    )


@require_GET
@back_office
def batch(request: HttpRequest, pk: int) -> HttpResponse:
    batch = selectors.payment_batch_for(user=request_user(request), pk=pk)
    return render(
        request,
        "grants/batch.html",
        {
            "title": f"Bordereau n° {batch.number}",
            "batch": batch,
            "orders": list(selectors.payment_batch_orders(batch=batch)),
            "formats": BATCH_FORMATS,
        },
    )


@require_GET
@back_office
def batch_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The batch as CSV, XLSX or PDF summary, rendered again from its orders: the same content
    at each download."""
    batch = selectors.payment_batch_for(user=request_user(request), pk=pk)
    if fmt not in BATCH_FORMATS:
        raise Http404("Format inconnu.")
    response = HttpResponse(
        batch_file(batch=batch, fmt=fmt), content_type=BATCH_FORMATS[fmt].content_type
    )
    filename = f"bordereau-{batch.number}.{BATCH_FORMATS[fmt].extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
@back_office
def measurements_upload(request: HttpRequest) -> HttpResponse:
    """Upload a DUI editor's measurements file: all or nothing, rejected lines listed."""
    user = request_user(request)
    form = MeasurementsFileForm(request.POST or None, request.FILES or None)
    rejections: list[Any] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            summary = measurements_import(
                data=upload.read(), filename=upload.name or "mesures.csv", by=user
            )
        except ImportRejected as error:
            form.add_error("file", error.message)
            rejections = error.rejections
        except UserError as error:
            form.add_error("file", error.message)
        else:
            messages.success(
                request,
                f"{summary.rows} mesure(s) lue(s) : {summary.created} nouvelle(s), "
                f"{summary.updated} mise(s) à jour, {summary.unchanged} inchangée(s).",
            )
            return redirect("grants:queue")
    return render(
        request,
        "grants/measurements_upload.html",
        {"title": "Importer des mesures d'usage", "form": form, "rejections": rejections},
        status=400 if request.method == "POST" else 200,
    )


# --------------------------------------------------------------------------------------------
# Porteur
# --------------------------------------------------------------------------------------------


@require_GET
@applicant_required
def espace_grant(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    application = selectors.grant_for_applicant(user=user, pk=pk)
    convention = selectors.grant_convention(application=application)
    return render(
        request,
        "grants/espace_grant.html",
        {
            "title": f"Suivi du financement — dossier n° {application.pk}",
            "application": application,
            "convention": convention,
            "amendments": list(
                selectors.grant_amendments(convention=convention).filter(
                    status=Amendment.Status.VALIDATED
                )
            )
            if convention
            else [],
            "schedule": selectors.grant_schedule(application=application),
            "todo": porteur_todo(convention=convention, application=application),
            "orders": list(
                PaymentOrder.objects.filter(application=application).order_by("issued_at")
            ),
            "bank": BankDetails.objects.filter(
                application=application,
                status__in=[BankDetails.Status.ACTIVE, BankDetails.Status.PENDING],
            ).order_by("status"),
            "measurements": list(selectors.grant_measurements(application=application)[:200]),
            "can_sign": convention is not None
            and convention_open_to_signature(convention)
            and can_sign_convention(user, application),
            "closed": convention is not None and convention.status == Convention.Status.CLOSED,
            "can_enter_bank": can_enter_bank_details(user, application),
            "can_declare": can_declare_measurement(user, application),
            "sign_form": SignedConventionForm(),
            "bank_form": BankDetailsForm(),
        },
    )


@require_POST
@applicant_required
def espace_sign(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    application = selectors.grant_for_applicant(user=user, pk=pk)
    form = SignedConventionForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise UserError("Joignez la convention signée.")
        services.convention_sign(
            convention=_convention_of(application),
            by=user,
            signed_copy=form.cleaned_data["signed_copy"],
        )
    except UserError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Convention signée déposée : l'ARS va la contresigner.")
    return redirect("grants:espace_grant", pk=application.pk)


@require_POST
@applicant_required
def espace_bank(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    application = selectors.grant_for_applicant(user=user, pk=pk)
    if not can_enter_bank_details(user, application):
        raise PermissionDenied("Seul le porteur saisit les coordonnées bancaires.")
    form = BankDetailsForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            details = services.bank_details_submit(
                application=application, by=user, **form.cleaned_data
            )
        except UserError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                "Coordonnées bancaires enregistrées."
                if details.status == BankDetails.Status.ACTIVE
                else "Modification enregistrée : elle s'appliquera après validation par l'ARS.",
            )
            return redirect("grants:espace_grant", pk=application.pk)
    return render(
        request,
        "grants/bank_form.html",
        {"title": "Coordonnées bancaires", "application": application, "form": form},
        status=400,
    )


@require_http_methods(["GET", "POST"])
@applicant_required
def espace_measurements(request: HttpRequest, pk: int) -> HttpResponse:
    """The porteur declares a usage measurement with its evidence (« Déclarer une mesure »): the
    selects offer the grant's funded ESSMS and the indicators that apply to them; an error comes
    back next to its field (400), nothing saved. The grant's other applicants read the page."""
    user = request_user(request)
    application = selectors.grant_for_applicant(user=user, pk=pk)
    allowed = can_declare_measurement(user, application)
    if request.method == "POST" and not allowed:
        raise PermissionDenied(
            measurement_declare_blocker(application=application)
            or "Seul le porteur déclare les mesures."
        )
    declarable = measurement_declarable(application=application) if allowed else {}
    posted = request.method == "POST"
    form = MeasurementDeclarationForm(
        request.POST if posted else None, request.FILES if posted else None, declarable=declarable
    )
    if posted and form.is_valid():
        try:
            measurement = measurement_declare(application=application, by=user, **form.cleaned_data)
        except UserError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                f"Mesure « {measurement.indicator.label} » de {measurement.structure.name} "
                "enregistrée : elle est à vérifier par l'ARS.",
            )
            return redirect("grants:espace_measurements", pk=application.pk)
    return render(
        request,
        "grants/espace_measurements.html",
        {
            "title": "Déclarer une mesure",
            "application": application,
            "can_declare": allowed,
            "blocker": None if allowed else measurement_declare_blocker(application=application),
            "declarable": declarable,
            "form": form,
            "measurements": list(selectors.grant_measurements(application=application)[:200]),
        },
        status=400 if posted else 200,
    )


# --------------------------------------------------------------------------------------------
# Documents (both sides, scoped)
# --------------------------------------------------------------------------------------------


def _readable_grant(request: HttpRequest, pk: int) -> Any:
    user = request_user(request)
    if user.role == "gestionnaire":
        return selectors.grant_for_applicant(user=user, pk=pk)
    return selectors.grant_for_follow_up(user=user, pk=pk)


@require_GET
def signed_copy(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The convention as deposited signed by the porteur (its applicants and its follow-up)."""
    application = _readable_grant(request, pk)
    convention = selectors.grant_convention(application=application)
    if convention is None or not convention.signed_copy:
        raise Http404("Document introuvable.")
    return FileResponse(
        default_storage.open(convention.signed_copy.name, "rb"),
        as_attachment=True,
        filename=f"convention-{convention.number}-signee.pdf",
        content_type="application/pdf",
    )


@require_GET
def measurement_evidence(request: HttpRequest, pk: int, measurement_pk: int) -> HttpResponseBase:
    """A declared measurement's evidence, for the same readers as the signed convention: the
    grant's applicants and its follow-up scope (the ARS who checks it)."""
    application = _readable_grant(request, pk)
    measurement = get_object_or_404(
        selectors.grant_measurements(application=application), pk=measurement_pk
    )
    if not measurement.evidence:
        raise Http404("Document introuvable.")
    extension = measurement.evidence.name.rsplit(".", 1)[-1].lower()
    return FileResponse(
        default_storage.open(measurement.evidence.name, "rb"),
        as_attachment=True,
        filename=f"justificatif-mesure-{measurement.pk}.{extension}",
        content_type=ALLOWED_TYPES.get(extension, "application/octet-stream"),
    )


@require_GET
def convention_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The convention to sign, rendered from its frozen snapshot on demand (not stored: the same
    snapshot gives the same bytes); its applicants and its follow-up scope read it."""
    application = _readable_grant(request, pk)
    convention = selectors.grant_convention(application=application)
    if convention is None:
        raise Http404("Document introuvable.")
    data = convention_document(convention.snapshot)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="convention-{convention.number}.pdf"'
    return response


@require_GET
def amendment_pdf(request: HttpRequest, pk: int, amendment_pk: int) -> HttpResponse:
    """An amendment's letter, rendered on demand from its frozen snapshot, for the grant's
    follow-up scope; its applicants read the validated ones only (a draft is internal)."""
    user = request_user(request)
    application = _readable_grant(request, pk)
    amendment = _amendment_of(application, amendment_pk)
    if user.role == "gestionnaire" and amendment.status != Amendment.Status.VALIDATED:
        raise Http404("Document introuvable.")
    data = amendment_document(amendment.snapshot)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="avenant-{amendment.number}.pdf"'
    return response
