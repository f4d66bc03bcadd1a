"""Periodic tasks of the accounts app (Celery beat: CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task

from . import audit

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def purge_login_events() -> int:
    """Daily: delete the login audit's rows older than LOGIN_AUDIT_RETENTION_DAYS."""
    deleted = audit.purge()
    if deleted:
        logger.info("Journal des connexions : %d événement(s) expiré(s) supprimé(s).", deleted)
    return deleted
