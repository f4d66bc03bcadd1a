"""FINESS imports started from the admin: check the upload, record a job, run it in Celery.

The upload is kept in the private storage; the worker reads it back, imports it with
:func:`grappes.finess.importer.finess_import` and writes its progress (0-100) and report on the
:class:`~grappes.models.FinessImportJob` row that the admin page polls.

The import is one transaction (all or nothing), so the progress is written through a second
database connection of its own (:class:`JobProgress`): through the import's connection it would
stay invisible to the polling page until the end.
"""

from __future__ import annotations

import datetime
import io
import logging
from pathlib import PurePath
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from essms_portal.accounts.models import User
from essms_portal.outbox import enqueue_after_commit

from ..models import FinessImportJob
from .importer import (
    ExtractParser,
    ImportReport,
    NotAFinessExtract,
    concrete_field,
    finess_import,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# The job's report lists every rejected line but only the first warnings.
JOB_REPORT_WARNINGS = 200
# A job still pending or running after this long is taken for dead (worker lost): it no longer
# blocks a new import.
STALE_AFTER = datetime.timedelta(hours=6)
# A job still pending, never started, this long after its upload: its task was not published
# (broker down) or was lost. The periodic sweep queues it again meanwhile
# (``tasks.finess_import_jobs_resume``); past this grace it no longer blocks a new upload,
# which supersedes it.
PENDING_GRACE = datetime.timedelta(minutes=10)
SUPERSEDED_REPORT = (
    "Cet import n'avait pas démarré (service de tâches indisponible) : il a été remplacé par "
    "l'import de « {name} »."
)


def _never_started(now: datetime.datetime) -> QuerySet[FinessImportJob]:
    """Pending jobs whose task never started within the grace period."""
    return FinessImportJob.objects.filter(
        status=FinessImportJob.Status.PENDING,
        started_at__isnull=True,
        created_at__lt=now - PENDING_GRACE,
    )


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
    """The import currently pending or running (not stale), if any. A pending job whose task
    never started within ``PENDING_GRACE`` does not count: a new upload replaces it."""
    now = timezone.now()
    return (
        FinessImportJob.objects.filter(
            status__in=[FinessImportJob.Status.PENDING, FinessImportJob.Status.RUNNING],
            created_at__gte=now - STALE_AFTER,
        )
        .exclude(pk__in=_never_started(now).values("pk"))
        .order_by("-created_at")
        .first()
    )


def stored_upload_name(name: str) -> str:
    """A safe file name for the storage: slugified stem, ``.csv`` extension."""
    stem = slugify(PurePath(name).stem)[:80] or "extrait-finess"
    return f"{stem}.csv"


def finess_import_job_create(*, upload: UploadedFile, by: User) -> FinessImportJob:
    """Store the upload privately, record the job and queue it once the transaction commits
    (a broker that is down is logged, not raised: the periodic sweep queues the job again).
    Pending jobs that never started are marked failed, superseded: they will not run.

    The caller has checked the upload with :func:`finess_upload_error`.
    """
    original = PurePath(upload.name or "").name[:255] or "extrait FINESS"
    job = FinessImportJob(original_name=original, size=upload.size or 0, created_by=by)
    job.file.save(stored_upload_name(original), upload, save=False)
    job.save()
    # Conditional on the status: a worker claiming the old job at this instant wins or loses
    # as a whole (``finess_import_job_run`` only claims pending jobs).
    _never_started(timezone.now()).exclude(pk=job.pk).update(
        status=FinessImportJob.Status.FAILED,
        finished_at=timezone.now(),
        report=SUPERSEDED_REPORT.format(name=original),
    )
    enqueue_after_commit(run_finess_import_job, job.pk)
    return job


class JobProgress:
    """Writes a running job's progress and counts, committed at once, beside the import.

    The import holds its changes in one open transaction; these updates go through a
    connection of their own, in autocommit, so the admin page sees them while the import runs.
    PostgreSQL only: on SQLite a second connection would wait for the import's write lock, so
    the progress is only written with the result. Not either when the job runs inside a caller's
    transaction (its claim of the job row would hold the row lock the update waits for). A
    failing update is logged, never fatal.
    """

    FIELDS = ("progress", "lines_read", "created", "updated", "unchanged", "rejected")

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        alias = router.db_for_write(FinessImportJob)
        self.connection: BaseDatabaseWrapper | None = None
        main = connections[alias]
        if main.vendor == "postgresql" and not main.in_atomic_block:
            self.connection = connections.create_connection(alias)

    def write(self, percent: int, report: ImportReport) -> None:
        """Store the percentage and the report's counts on the job row, committed."""
        if self.connection is None:
            return
        quote = self.connection.ops.quote_name
        meta = FinessImportJob._meta
        assignments = ", ".join(
            f"{quote(concrete_field(FinessImportJob, name).column)} = %s" for name in self.FIELDS
        )
        values = [percent, *(getattr(report, name) for name in self.FIELDS[1:])]
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608
                    f"WHERE {quote(meta.pk.column)} = %s",
                    [*values, self.job_id],
                )
        except DatabaseError:
            logger.warning(
                "FINESS import job %s: progress not recorded", self.job_id, exc_info=True
            )
            self.close()

    def close(self) -> None:
        """Close the side connection; later writes do nothing."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def finess_import_job_run(*, job_id: int) -> FinessImportJob:
    """Run a pending job: import its file, recording progress, counts and the report.

    A job that is no longer pending (a redelivered message) is left as it is. Any error ends
    the job as failed with a message and leaves the referential as it was (the import is one
    transaction); the traceback goes to the logs.
    """
    claimed = FinessImportJob.objects.filter(
        pk=job_id, status=FinessImportJob.Status.PENDING
    ).update(status=FinessImportJob.Status.RUNNING, started_at=timezone.now())
    job = FinessImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    last = [-1]
    side = JobProgress(job_id)

    def progress(done: int, total: int, report: ImportReport) -> None:
        # 100 is written with the result: until then the page keeps polling.
        percent = min(99, done * 100 // total) if total else 0
        if percent != last[0]:
            last[0] = percent
            side.write(percent, report)

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
            "report": "L'import a échoué sur une erreur inattendue : aucune donnée n'a été "
            "enregistrée (l'import est tout ou rien). Le détail technique est dans les journaux "
            "du serveur.",
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
    finally:
        side.close()
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


# Declared next to the service that queues it; ``grappes.tasks`` re-exports it for Celery's
# discovery, under the name published messages carry.
@shared_task(name="grappes.tasks.run_finess_import_job")
def run_finess_import_job(job_id: int) -> str:
    """Import the file of a FINESS import job; returns the job's final status."""
    return str(finess_import_job_run(job_id=job_id).status)
