"""FINESS imports started from the admin: check the upload, record a job, run it in Celery.

The upload is kept in the private storage; the worker reads it back, imports it with
:func:`grappes.finess_import.finess_import` and writes its progress (0-100) and report on the
:class:`~grappes.models.FinessImportJob` row that the admin page polls.
"""

from __future__ import annotations

import datetime
import io
import logging
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from essms_portal.accounts.models import User

from .finess_import import ExtractParser, ImportReport, NotAFinessExtract, finess_import
from .models import FinessImportJob

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# The job's report lists every rejected line but only the first warnings.
JOB_REPORT_WARNINGS = 200
# A job still pending or running after this long is taken for dead (worker lost): it no longer
# blocks a new import.
STALE_AFTER = datetime.timedelta(hours=6)


def finess_upload_max_bytes() -> int:
    """Upload size limit (``FINESS_IMPORT_MAX_BYTES`` setting, 200 Mo by default)."""
    return int(getattr(settings, "FINESS_IMPORT_MAX_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def finess_upload_error(upload: UploadedFile) -> str | None:
    """None when ``upload`` may be imported, else a French message saying why not."""
    limit = finess_upload_max_bytes()
    if upload.size is None or upload.size == 0:
        return "Le fichier est vide."
    if upload.size > limit:
        return (
            f"Le fichier dépasse la taille maximale autorisée ({limit // (1024 * 1024)} Mo) : "
            f"il fait {upload.size / (1024 * 1024):.1f} Mo."
        )
    upload.seek(0)
    head = upload.read(1024)
    upload.seek(0)
    try:
        ExtractParser(io.BytesIO(head), departments=()).read_marker()
    except NotAFinessExtract as error:
        return error.message
    return None


def finess_import_job_running() -> FinessImportJob | None:
    """The import currently pending or running (not stale), if any."""
    return (
        FinessImportJob.objects.filter(
            status__in=[FinessImportJob.Status.PENDING, FinessImportJob.Status.RUNNING],
            created_at__gte=timezone.now() - STALE_AFTER,
        )
        .order_by("-created_at")
        .first()
    )


def stored_upload_name(name: str) -> str:
    """A safe file name for the storage: slugified stem, ``.csv`` extension."""
    stem = slugify(PurePath(name).stem)[:80] or "extrait-finess"
    return f"{stem}.csv"


def finess_import_job_create(*, upload: UploadedFile, by: User) -> FinessImportJob:
    """Store the upload privately, record the job and queue it once the transaction commits.

    The caller has checked the upload with :func:`finess_upload_error`.
    """
    from .tasks import run_finess_import_job  # the task module imports this one

    original = PurePath(upload.name or "").name[:255] or "extrait FINESS"
    job = FinessImportJob(original_name=original, size=upload.size or 0, created_by=by)
    job.file.save(stored_upload_name(original), upload, save=False)
    job.save()
    transaction.on_commit(lambda: run_finess_import_job.delay(job.pk))
    return job


def finess_import_job_run(*, job_id: int) -> FinessImportJob:
    """Run a pending job: import its file, recording progress, counts and the report.

    A job that is no longer pending (a redelivered message) is left as it is. Any error ends
    the job as failed with a message; the traceback goes to the logs.
    """
    claimed = FinessImportJob.objects.filter(
        pk=job_id, status=FinessImportJob.Status.PENDING
    ).update(status=FinessImportJob.Status.RUNNING, started_at=timezone.now())
    job = FinessImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    last = [-1]

    def progress(done: int, total: int, report: ImportReport) -> None:
        # 100 is written with the result: until then the page keeps polling.
        percent = min(99, done * 100 // total) if total else 0
        if percent != last[0]:
            last[0] = percent
            FinessImportJob.objects.filter(pk=job_id).update(
                progress=percent,
                lines_read=report.lines_read,
                created=report.created,
                updated=report.updated,
                unchanged=report.unchanged,
                rejected=report.rejected,
            )

    fields: dict[str, Any]
    try:
        with job.file.open("rb") as stream:
            report = finess_import(path_or_stream=stream, progress=progress)
    except NotAFinessExtract as error:
        fields = {"status": FinessImportJob.Status.FAILED, "report": error.message}
    except Exception:
        logger.exception("FINESS import job %s failed", job_id)
        fields = {
            "status": FinessImportJob.Status.FAILED,
            "report": "L'import a échoué sur une erreur inattendue ; les lots déjà traités "
            "sont enregistrés et un nouvel import du même fichier reprendra sans doublon. "
            "Le détail technique est dans les journaux du serveur.",
        }
    else:
        fields = {
            "status": FinessImportJob.Status.DONE,
            "progress": 100,
            "lines_read": report.lines_read,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
            "report": report.as_text(max_warnings=JOB_REPORT_WARNINGS),
        }
    fields["finished_at"] = timezone.now()
    FinessImportJob.objects.filter(pk=job_id).update(**fields)
    job.refresh_from_db()
    return job


def finess_import_job_status(*, job: FinessImportJob) -> dict[str, Any]:
    """What the progress page shows, as JSON-ready values."""
    finished = job.status in (FinessImportJob.Status.DONE, FinessImportJob.Status.FAILED)
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "finished": finished,
        "lines_read": job.lines_read,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "report": job.report if finished else "",
    }
