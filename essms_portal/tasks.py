"""Project-wide Celery tasks: the e-mail outbox's sender and the periodic sweep.

E-mails are recorded in the outbox in the transaction that causes them
(``essms_portal.outbox.email_queue``) and sent here, after commit."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.core.mail import send_mail

from applications.decisions.tasks import (
    decision_exports_resume_stale,
    decision_letters_resume_pending,
)
from grappes.tasks import finess_import_jobs_resume

from . import outbox
from .outbox import send_queued_emails  # noqa: F401  (Celery discovery: declared by the outbox)

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sweep(older_than_seconds: float = 60.0, exports_stale_seconds: float = 120.0) -> dict[str, int]:
    """Every minute (Celery beat): queue again the work whose task could not be published or
    was lost — due outbox e-mails, decision exports without progress, FINESS imports never
    started, decision letters still to render. Each part is safe to run twice; a failing part
    does not stop the others.

    Work younger than ``older_than_seconds`` is left to its own task (an export: without a
    heartbeat for ``exports_stale_seconds``)."""
    older_than = datetime.timedelta(seconds=older_than_seconds)
    parts = {
        "emails": lambda: outbox.outbox_sweep(older_than=older_than),
        "decision_exports": lambda: decision_exports_resume_stale(
            stale_after=datetime.timedelta(seconds=exports_stale_seconds)
        ),
        "finess_imports": lambda: finess_import_jobs_resume(older_than=older_than),
        # Decision letters still pending a minute after their issue (broker down, worker lost).
        "decision_letters": lambda: decision_letters_resume_pending(older_than=older_than),
    }
    done: dict[str, int] = {}
    for name, part in parts.items():
        try:
            done[name] = part()
        except Exception:
            logger.exception("Balayage périodique : la reprise « %s » a échoué.", name)
            done[name] = -1
    if any(done.values()):
        logger.info("Balayage périodique : %s", done)
    return done


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email_task(self, *, subject: str, body: str, recipients: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Send one plain-text e-mail directly. Superseded by the outbox; kept so that messages
    published before the outbox existed are still delivered by an upgraded worker."""
    return send_mail(subject, body, None, recipients)


@shared_task
def ping() -> str:
    """A trivial task used to check that a worker answers (health check and tests)."""
    return "pong"
