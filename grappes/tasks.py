"""Celery tasks of the referential: the FINESS import started from the admin."""

from celery import shared_task

from .finess_jobs import finess_import_job_run


@shared_task
def run_finess_import_job(job_id: int) -> str:
    """Import the file of a FINESS import job; returns the job's final status."""
    return str(finess_import_job_run(job_id=job_id).status)
