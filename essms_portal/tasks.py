"""Project-wide Celery tasks: e-mail is always sent from a worker, after commit."""

from celery import shared_task
from django.core.mail import send_mail


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email_task(self, *, subject: str, body: str, recipients: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Send one plain-text e-mail; retried on network errors."""
    return send_mail(subject, body, None, recipients)


@shared_task
def ping() -> str:
    """A trivial task used to check that a worker answers (health check and tests)."""
    return "pong"
