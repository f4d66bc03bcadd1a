"""Periodic tasks of the follow-up (run by Celery beat)."""

from celery import shared_task
from django.utils import timezone

from .reminders import follow_up_reminders_send


@shared_task
def send_follow_up_reminders() -> int:
    """Daily: remind porteurs of the convention and measurement deadlines (each reminder once)."""
    return follow_up_reminders_send(today=timezone.localdate())
