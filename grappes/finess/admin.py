"""Admin pages of the FINESS import: upload form, progress page and its JSON status.

Mounted by ``FinessImportJobAdmin.get_urls`` behind ``admin_site.admin_view`` (staff only,
others are sent to the admin login). The pages use the portal's DSFR shell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods

from essms_portal.accounts.models import User

from ..models import FinessImportJob
from .jobs import (
    finess_import_job_create,
    finess_import_job_running,
    finess_import_job_status,
    finess_upload_error,
    finess_upload_max_bytes,
)

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

ADD_PERMISSION = "grappes.add_finessimportjob"
VIEW_PERMISSION = "grappes.view_finessimportjob"
RECENT_JOBS = 5


class FinessUploadForm(forms.Form):
    """The extract to import; refused when too big, not an extract, or an import is running."""

    file = forms.FileField(label="Extrait FINESS des établissements")

    def clean_file(self) -> UploadedFile:
        upload = cast(UploadedFile, self.cleaned_data["file"])
        if error := finess_upload_error(upload):
            raise forms.ValidationError(error, code="invalid")
        if (running := finess_import_job_running()) is not None:
            raise forms.ValidationError(
                f"Un import est déjà en cours (« {running.original_name} ») : attendez qu'il "
                "se termine avant d'en lancer un autre.",
                code="busy",
            )
        return upload


def _require(request: HttpRequest, permission: str) -> User:
    user = cast(User, request.user)
    if not user.has_perm(permission):
        raise PermissionDenied("Vous n'avez pas le droit d'importer le référentiel FINESS.")
    return user


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """Upload form; a valid file becomes a queued job, then the progress page."""
    user = _require(request, ADD_PERMISSION)
    form = FinessUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = finess_import_job_create(upload=form.cleaned_data["file"], by=user)
        messages.success(request, f"Import de « {job.original_name} » lancé.")
        return redirect("admin:grappes_finessimportjob_progress", pk=job.pk)
    return render(
        request,
        "grappes/finess_import/upload.html",
        {
            "title": "Importer l'extrait FINESS",
            "form": form,
            "max_mb": finess_upload_max_bytes() // (1024 * 1024),
            "running": finess_import_job_running(),
            "recent": FinessImportJob.objects.select_related("created_by")[:RECENT_JOBS],
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@require_GET
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's progress bar, refreshed by polling :func:`status`."""
    _require(request, VIEW_PERMISSION)
    job = get_object_or_404(FinessImportJob, pk=pk)
    return render(
        request,
        "grappes/finess_import/progress.html",
        {
            "title": f"Import FINESS « {job.original_name} »",
            "job": job,
            "status": finess_import_job_status(job=job),
        },
    )


@require_GET
def status(request: HttpRequest, pk: int) -> JsonResponse:
    """The job's status, progress and counts (JSON)."""
    _require(request, VIEW_PERMISSION)
    job = get_object_or_404(FinessImportJob, pk=pk)
    return JsonResponse(finess_import_job_status(job=job))


def finess_import_urls(model_admin: ModelAdmin[Any]) -> list[URLPattern]:
    """The three pages, staff-only through the admin site's ``admin_view``."""
    wrap: Callable[..., Any] = model_admin.admin_site.admin_view
    return [
        path("importer/", wrap(upload), name="grappes_finessimportjob_upload"),
        path("<int:pk>/suivi/", wrap(progress), name="grappes_finessimportjob_progress"),
        path("<int:pk>/statut/", wrap(status), name="grappes_finessimportjob_status"),
    ]
