"""Decision pages: issuing, listing and batch export (back office), the decision PDF (dossier's
applicants and back-office scope), public verification, data exports and the dashboard.

Thin views: a scoped selector, a form, one service, a message, a redirect.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from essms_portal.accounts.models import ARS_ROLES, User
from essms_portal.http import request_user as _user
from grappes.models import Region

from .. import selectors
from ..http import back_office
from ..instruction.filters import queue_filtered
from ..models import Campaign, Decision, DecisionExport
from ..reporting import atlas, dashboard, exports
from ..workflow import Status, TransitionError
from . import services as decisions
from .letters import fingerprint_display

MAX_VERIFY_UPLOAD = 20 * 1024 * 1024  # 20 Mo


# --------------------------------------------------------------------------------------------
# Filters and forms
# --------------------------------------------------------------------------------------------


class DecisionFilter(django_filters.FilterSet):
    """Select decisions to list or export: campaign, region, outcome, date range."""

    campaign = django_filters.ModelChoiceFilter(
        label="Campagne", queryset=Campaign.objects.all(), empty_label="Toutes"
    )
    region = django_filters.ChoiceFilter(
        label="Région", field_name="region_key", choices=(), empty_label="Toutes"
    )
    status = django_filters.ChoiceFilter(
        label="Décision",
        field_name="outcome",
        choices=Decision.Outcome.choices,
        empty_label="Toutes",
    )
    issued_after = django_filters.DateFilter(
        label="Émise à partir du",
        field_name="issued_on",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    issued_before = django_filters.DateFilter(
        label="Émise jusqu'au",
        field_name="issued_on",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Decision
        fields = ("campaign", "region", "status", "issued_after", "issued_before")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = Region.objects.order_by("position")
        choices = [(decisions.NATIONAL_REGION_KEY, "National (CNSA)")]
        if user.role in ARS_ROLES:
            regions = regions.filter(code=user.region_id)
            choices = []
        choices += [(r.code, r.name) for r in regions]
        self.filters["region"].extra["choices"] = choices


class VerifyLookupForm(forms.Form):
    """The decision number and the verification code, both printed on the letter."""

    numero = forms.CharField(
        label="Numéro de la décision",
        max_length=20,
        help_text="Format : année-région-numéro, par exemple 2023-11-0042.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    code = forms.CharField(
        label="Code de vérification",
        max_length=20,
        help_text="10 caractères imprimés sur la lettre, par exemple K7QX-M2P9-DA "
        "(majuscules, minuscules et tirets indifférents).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        code = decisions.verification_code_normalise(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(
                "Le code de vérification comporte 10 lettres ou chiffres, par exemple K7QX-M2P9-DA."
            )
        return code


class VerifyForm(forms.Form):
    """The PDF to check against the stored hash."""

    document = forms.FileField(
        label="Fichier PDF de la décision",
        help_text="Format PDF, 20 Mo au maximum.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def clean_document(self) -> Any:
        document = self.cleaned_data["document"]
        if document.size > MAX_VERIFY_UPLOAD:
            raise forms.ValidationError("Le fichier dépasse 20 Mo : ce n'est pas une décision.")
        return document


def _filtered_decisions(request: HttpRequest, data: Any) -> tuple[DecisionFilter, QuerySet]:
    """The user's exportable decisions narrowed by the filters in ``data``."""
    user = _user(request)
    base = decisions.decisions_exportable_by(user=user).order_by("-issued_on", "-number")
    filterset = DecisionFilter(data or None, queryset=base, user=user)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    return filterset, rows


# --------------------------------------------------------------------------------------------
# Back office: pending decisions, issuing, list, batch export
# --------------------------------------------------------------------------------------------


PENDING_PAGE_SIZE = 50


@require_GET
@back_office
def pending(request: HttpRequest) -> HttpResponse:
    """Accepted or rejected dossiers whose decision is still to be issued, 50 a page; CNSA
    agents select accepted ones to issue together (after a confirmation page)."""
    user = _user(request)
    rows = decisions.applications_awaiting_decision(user=user)
    page = Paginator(rows, PENDING_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "applications/decisions/pending.html",
        {
            "title": "Décisions à émettre",
            "page": page,
            "count": page.paginator.count,
            "querystring": "",
            "can_issue": decisions.can_issue_decisions(user),
            "accepted": Status.ACCEPTED,
        },
    )


def _require_issuer(user: User) -> None:
    if not decisions.can_issue_decisions(user):
        raise PermissionDenied("Seuls les agents CNSA émettent les décisions.")


@require_GET
@back_office
def issue_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation page before issuing one decision (irreversible): what will be issued,
    a button that posts to ``issue``, a way back."""
    user = _user(request)
    _require_issuer(user)
    application = selectors.application_for_reviewer(user=user, pk=pk)
    awaiting = decisions.applications_awaiting_decision(user=user).filter(pk=application.pk)
    if not awaiting.exists():
        messages.error(
            request, f"La décision du dossier n° {application.pk} ne peut pas être émise."
        )
        return redirect("decisions:pending")
    return render(
        request,
        "applications/decisions/confirm.html",
        {
            "title": "Confirmer l'émission de la décision",
            "applications": list(awaiting),
            "bulk": False,
        },
    )


@require_POST
@back_office
def issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue one dossier's decision (CNSA agents only), posted from the confirmation page."""
    user = _user(request)
    _require_issuer(user)
    application = selectors.application_for_reviewer(user=user, pk=pk)
    try:
        decision = decisions.decision_issue(application=application, by=user)
    except TransitionError as error:
        messages.error(request, error.message)
        return redirect("decisions:pending")
    messages.success(request, f"Décision n° {decision.number} émise et notifiée au porteur.")
    return redirect("decisions:pending")


def _selected_ids(request: HttpRequest) -> list[int]:
    return sorted({int(v) for v in request.POST.getlist("dossiers") if v.isdigit()})


@require_POST
@back_office
def issue_bulk(request: HttpRequest) -> HttpResponse:
    """Issue several accepted decisions (CNSA agents). Two steps on one URL: the selection
    posted from the pending page shows the confirmation page; posted again with
    ``confirm`` from there, each dossier goes through ``decision_issue`` on its own, so one
    refusal does not undo the others, and the result is told in one message each way."""
    user = _user(request)
    _require_issuer(user)
    ids = _selected_ids(request)
    if not ids:
        messages.error(request, "Sélectionnez au moins un dossier accepté.")
        return redirect("decisions:pending")
    if request.POST.get("confirm") != "1":
        selected = list(
            decisions.applications_awaiting_decision(user=user).filter(
                pk__in=ids, status=Status.ACCEPTED
            )
        )
        if not selected:
            messages.error(request, "Aucun des dossiers sélectionnés n'attend sa décision.")
            return redirect("decisions:pending")
        return render(
            request,
            "applications/decisions/confirm.html",
            {
                "title": "Confirmer l'émission des décisions",
                "applications": selected,
                "bulk": True,
            },
        )
    result = decisions.decisions_issue_many(application_ids=ids, by=user)
    if result.issued:
        numbers = ", ".join(d.number for d in result.issued)
        count = len(result.issued)
        messages.success(
            request,
            f"{count} décision{pluralize(count)} émise{pluralize(count)} et notifiée"
            f"{pluralize(count)} : {numbers}.",
        )
    if result.failed:
        details = " ; ".join(f"dossier n° {pk} : {reason}" for pk, reason in result.failed)
        count = len(result.failed)
        messages.error(
            request,
            f"{count} décision{pluralize(count)} non émise{pluralize(count)} ({details}).",
        )
    return redirect("decisions:pending")


@require_GET
@back_office
def decision_list(request: HttpRequest) -> HttpResponse:
    """Issued decisions in the user's scope, filtered; the filters drive the batch export."""
    user = _user(request)
    filterset, rows = _filtered_decisions(request, request.GET)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "applications/decisions/list.html",
        {
            "title": "Décisions émises",
            "filter": filterset,
            "page": page,
            "count": page.paginator.count,
            "querystring": query.urlencode(),
            "exports": decisions.decision_exports_of(user=user)[:5],
        },
    )


@require_POST
@back_office
def export_create(request: HttpRequest) -> HttpResponse:
    """Start a batch export of the decisions matching the posted filters."""
    filterset, rows = _filtered_decisions(request, request.POST)
    if filterset.is_bound and not filterset.is_valid():
        messages.error(request, "Les filtres sont invalides : corrigez-les avant d'exporter.")
        return redirect("decisions:list")
    filters = {k: v for k, v in request.POST.items() if k in filterset.filters and v}
    try:
        job = decisions.decision_export_create(by=_user(request), decisions=rows, filters=filters)
    except decisions.DecisionError as error:
        messages.error(request, error.message)
        return redirect("decisions:list")
    return redirect("decisions:export_detail", pk=job.pk)


@require_GET
@back_office
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's progress bar (refreshed by polling ``export_status``) and its download link."""
    job = decisions.decision_export_for_owner(user=_user(request), pk=pk)
    return render(
        request,
        "applications/decisions/export.html",
        {"title": f"Export de décisions n° {job.pk}", "job": job},
    )


def _status_payload(job: DecisionExport) -> dict[str, Any]:
    return {
        "status": job.status,
        "label": job.get_status_display(),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "download_url": reverse("decisions:export_download", kwargs={"pk": job.pk})
        if job.status == DecisionExport.Status.DONE
        else None,
    }


@require_GET
@back_office
def export_status(request: HttpRequest, pk: int) -> JsonResponse:
    """The job's progress as JSON; a job without sign of life is queued again (resume)."""
    job = decisions.decision_export_for_owner(user=_user(request), pk=pk)
    decisions.decision_export_resume_if_stale(job=job)
    return JsonResponse(_status_payload(job))


@require_GET
@back_office
def export_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The finished ZIP, to the user who requested it only."""
    job = decisions.decision_export_for_owner(user=_user(request), pk=pk)
    if job.status != DecisionExport.Status.DONE or not job.archive:
        raise Http404("L'archive n'est pas encore prête.")
    return FileResponse(
        default_storage.open(job.archive.name, "rb"),
        as_attachment=True,
        filename=f"decisions-{job.pk}.zip",
        content_type="application/zip",
    )


# --------------------------------------------------------------------------------------------
# The decision PDF and the public verification page
# --------------------------------------------------------------------------------------------


@require_GET
def decision_pdf(request: HttpRequest, number: str) -> HttpResponseBase:
    """A decision's letter, to the dossier's applicants and its back-office scope (404 else).
    While a worker is still rendering it: a page saying so (the letter follows in moments)."""
    decision = decisions.decision_for_user(user=_user(request), number=number)
    if not decision.letter_ready:
        response = render(
            request,
            "decisions/letter_pending.html",
            {"title": f"Décision n° {decision.number}", "decision": decision},
        )
        response["Retry-After"] = "10"
        return response
    return FileResponse(
        default_storage.open(decision.pdf.name, "rb"),
        as_attachment=True,
        filename=f"decision-{decision.number}.pdf",
        content_type="application/pdf",
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Public, two steps: the decision number and its verification code (both on the letter)
    show the decision (date, beneficiary, total, PDF hash); a PDF posted with them is compared
    with the issued one. Nothing else about the dossier is shown.

    GET without parameters: the empty form. GET ``?numero=…&code=…`` (the letter's direct link)
    or POST: the lookup. An unknown number, a wrong code or a malformed pair all answer 404
    with the same page, so numbers cannot be enumerated."""
    context: dict[str, Any] = {"title": "Vérifier une décision", "decision": None, "result": None}
    if request.method == "POST":
        # Refuse an oversized body before Django spools it to disk (and before reading it).
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_VERIFY_UPLOAD + 64 * 1024:
            lookup = VerifyLookupForm()
            lookup.add_error(None, "Le fichier dépasse 20 Mo : ce n'est pas une décision.")
            return render(
                request, "decisions/verify.html", {**context, "lookup": lookup}, status=413
            )
        data = request.POST
    elif "numero" in request.GET or "code" in request.GET:
        data = request.GET
    else:
        return render(request, "decisions/verify.html", {**context, "lookup": VerifyLookupForm()})
    lookup = VerifyLookupForm(data)
    decision = (
        decisions.decision_public(
            number=lookup.cleaned_data["numero"], code=lookup.cleaned_data["code"]
        )
        if lookup.is_valid()
        else None
    )
    if decision is None:
        # No hint of which part was wrong: the typed number is echoed back, never the code.
        lookup = VerifyLookupForm(initial={"numero": data.get("numero", "")[:20]})
        return render(
            request,
            "decisions/verify.html",
            {**context, "lookup": lookup, "not_found": True},
            status=404,
        )
    context.update(
        title=f"Vérifier la décision n° {decision.number}",
        decision=decision,
        fingerprint=fingerprint_display(decision.snapshot_sha256),
        code=decisions.verification_code_display(decision.verification_code),
    )
    status = 200
    form = VerifyForm()
    if request.method == "POST" and decision.letter_ready:
        form = VerifyForm(request.POST, request.FILES)
        if form.is_valid():
            context["result"] = decisions.decision_pdf_matches(
                decision=decision, chunks=form.cleaned_data["document"].chunks()
            )
        else:
            status = 400
    return render(request, "decisions/verify.html", {**context, "form": form}, status=status)


# --------------------------------------------------------------------------------------------
# Data exports and dashboard
# --------------------------------------------------------------------------------------------


@require_GET
@back_office
def data_export(request: HttpRequest, dataset: str, fmt: str) -> HttpResponseBase:
    """Dossiers or ESSMS lines of the user's queue, with the queue's filters, in CSV or XLSX."""
    if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
        raise Http404("Export inconnu.")
    user = _user(request)
    _filterset, rows = queue_filtered(user=user, data=request.GET)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{dataset}-{stamp}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            exports.csv_stream(exports.rows_for(dataset, rows)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(
        exports.xlsx_file(exports.rows_for(dataset, rows), title=dataset),
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@require_GET
@back_office
def dashboard_view(request: HttpRequest) -> HttpResponse:
    """The atlas by département, envelopes and amounts per call, ESSMS per sector, for the
    user's scope."""
    campaigns = Campaign.objects.order_by("-year")
    campaign = dashboard.dashboard_campaign(year=request.GET.get("campagne"))
    board = dashboard.dashboard_build(user=_user(request), campaign=campaign)
    amounts_chart, sectors_chart = dashboard.dashboard_charts(board)
    atlas_figures = atlas.atlas_for(
        user=_user(request),
        campaign=campaign,
        params=request.GET,
        calls=[row.call for row in board.rows],
    )
    return render(
        request,
        "applications/decisions/dashboard.html",
        {
            "title": "Tableau de bord",
            "board": board,
            "atlas": atlas_figures,
            "atlas_map": atlas.map_geometry(),
            "atlas_shapes": atlas.atlas_shapes(atlas_figures),
            "atlas_legend": atlas.legend(),
            "campaigns": campaigns,
            "amounts_chart": amounts_chart,
            "sectors_chart": sectors_chart,
            "sector_rows": [
                (row, [counts.get(s.code, 0) for s in board.sectors])
                for row in board.rows
                for counts in [board.sector_counts.get(row.call.pk, {})]
            ],
            "sector_totals": [board.sector_totals.get(s.code, 0) for s in board.sectors],
        },
    )


@require_GET
@back_office
def atlas_csv(request: HttpRequest) -> HttpResponseBase:
    """The atlas's table (same filters as the dashboard) as CSV."""
    campaign = dashboard.dashboard_campaign(year=request.GET.get("campagne"))
    figures = atlas.atlas_for(user=_user(request), campaign=campaign, params=request.GET)
    response = StreamingHttpResponse(
        exports.csv_stream(atlas.atlas_csv_rows(figures)), content_type="text/csv; charset=utf-8"
    )
    year = campaign.year if campaign else "aucune"
    response["Content-Disposition"] = f'attachment; filename="atlas-{year}.csv"'
    return response


@require_GET
@back_office
def atlas_png(request: HttpRequest) -> HttpResponse:
    """The atlas's map (same filters as the dashboard) as a PNG image."""
    campaign = dashboard.dashboard_campaign(year=request.GET.get("campagne"))
    figures = atlas.atlas_for(user=_user(request), campaign=campaign, params=request.GET)
    response = HttpResponse(atlas.atlas_png(figures), content_type="image/png")
    year = campaign.year if campaign else "aucune"
    response["Content-Disposition"] = f'attachment; filename="atlas-{year}.png"'
    return response
