"""Celery tasks of the decisions: the letter of an issued decision, rendered after commit, and
the batch export of decision PDFs.

Both are idempotent: a letter is a pure function of its snapshot (``decision_letter_render``
records it once); an export run twice, or again after a worker was killed mid-batch, ends with
the same ZIP, each decision once (``decision_export_build``).
"""

from __future__ import annotations

import datetime

from ..models import DecisionExport
from .services import (  # noqa: F401  (Celery discovery: build_decision_export, render_…)
    build_decision_export,
    decision_export_resume_if_stale,
    decision_letters_resume_pending,
    render_decision_letter,
)


def decision_exports_resume_stale(*, stale_after: datetime.timedelta) -> int:
    """Queue again every pending or running export with no sign of life for ``stale_after``
    (its task was never published — broker down at the request — or its worker died); run by
    the periodic sweep. Returns how many were queued."""
    jobs = DecisionExport.objects.filter(
        status__in=[DecisionExport.Status.PENDING, DecisionExport.Status.RUNNING]
    ).order_by("pk")
    return sum(decision_export_resume_if_stale(job=job, stale_after=stale_after) for job in jobs)
