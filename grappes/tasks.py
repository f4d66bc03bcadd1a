"""Celery tasks of the referential: the FINESS import started from the admin."""

from __future__ import annotations

import datetime

from django.utils import timezone

from essms_portal.outbox import enqueue

from .finess.jobs import run_finess_import_job
from .models import FinessImportJob


def finess_import_jobs_resume(*, older_than: datetime.timedelta) -> int:
    """Queue again the import jobs still pending (never started) ``older_than`` after their
    upload: their task was not published (broker down) or was lost. Run by the periodic
    sweep; a job already claimed by a worker is left alone by ``finess_import_job_run``, so a
    duplicate message is harmless. Returns how many were queued."""
    pending = FinessImportJob.objects.filter(
        status=FinessImportJob.Status.PENDING,
        started_at__isnull=True,
        created_at__lte=timezone.now() - older_than,
    ).order_by("created_at")
    return sum(
        enqueue(run_finess_import_job, job_id=pk) for pk in pending.values_list("pk", flat=True)
    )
