"""Periodic tasks of the instruction (run by Celery beat)."""

from celery import shared_task
from django.utils import timezone

from .instruction.services import complement_reminders_send


@shared_task
def send_complement_reminders() -> int:
    """Daily: remind applicants of complement deadlines in the next three days."""
    return complement_reminders_send(today=timezone.localdate())


# Celery discovers tasks in tasks.py only: expose the decision tasks from here.
from .decisions.tasks import build_decision_export  # noqa: E402, F401  (Celery discovery)
