"""Celery tasks of the decisions: the batch export of decision PDFs.

The task is idempotent and resumable (see ``decisions.decision_export_build``): running it twice,
or again after a worker was killed mid-batch, ends with the same ZIP, each decision once.
"""

from celery import shared_task

from .decisions import decision_export_build


@shared_task(acks_late=True)
def build_decision_export(job_id: int) -> int | None:
    """Build the ZIP of an export job; returns the number of decisions, None if the job is gone."""
    job = decision_export_build(job_id=job_id)
    return job.total if job else None
