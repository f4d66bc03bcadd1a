"""What must happen after a commit is recorded in the same transaction, then handed to Celery
without ever failing the user's request.

- **E-mails** go to an outbox in the database (django-post-office's ``Email`` rows, shown in the
  admin under « Post Office » as queued, sent, failed, with a log of each attempt), written by
  :func:`email_queue` in the caller's transaction: a rolled-back change sends nothing, a
  committed one always has its e-mails recorded. Once the transaction commits, a worker sends
  them (:func:`outbox_send`); a failed delivery is retried with a growing delay, then marked
  failed.
- **Tasks** are published after commit by :func:`enqueue_after_commit`: the broker gets a short
  timeout and no publish retry (settings ``CELERY_BROKER_*``, ``CELERY_TASK_PUBLISH_RETRY``), and
  a refusal is logged, never raised. What could not be published is found again by the
  periodic sweep (``essms_portal.tasks.sweep``, run by Celery beat): e-mails still queued,
  decision exports without progress, FINESS imports never started.

Mails sent through Django's ``send_mail`` (allauth's confirmation and password mails) reach the
same outbox: ``EMAIL_BACKEND`` is :class:`OutboxEmailBackend`, and the real transport
(SMTP, console) is post-office's delivery backend (``POST_OFFICE["BACKENDS"]["default"]``).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import make_msgid
from functools import partial
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from post_office.models import PRIORITY, STATUS, Email, Log
from post_office.settings import get_max_retries, get_message_id_enabled, get_message_id_fqdn

logger = logging.getLogger(__name__)

# First retry delay of a failed delivery; doubled at each retry, capped (POST_OFFICE settings
# give the number of retries).
RETRY_FIRST_DELAY = datetime.timedelta(minutes=1)
RETRY_MAX_DELAY = datetime.timedelta(hours=1)
SEND_BATCH = 200


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


def enqueue(task: Task, /, *args: Any, **kwargs: Any) -> bool:
    """Publish ``task(*args, **kwargs)`` now; False, logged, when the broker refuses (never
    raises).

    The result is ignored: waiting on a result store that is down would block the caller too.
    With eager Celery (demo, tests) the task runs here, and its failure is logged the same way.
    """
    try:
        task.apply_async(args=args, kwargs=kwargs, ignore_result=True)
    except Exception:
        logger.warning(
            "Tâche %s%s non mise en file (courtier indisponible ?) : le balayage périodique "
            "la reprendra.",
            task.name,
            (*args, *(f"{key}={value!r}" for key, value in kwargs.items())),
            exc_info=True,
        )
        return False
    return True


def enqueue_after_commit(task: Task, /, *args: Any, **kwargs: Any) -> None:
    """Publish ``task(*args, **kwargs)`` once the current transaction commits (at once outside
    a transaction); never for a rolled-back one. A broker failure is logged, the user's request
    succeeds."""
    transaction.on_commit(partial(enqueue, task, *args, **kwargs))


# --------------------------------------------------------------------------------------------
# E-mail outbox
# --------------------------------------------------------------------------------------------


def _addresses(values: Iterable[str] | None) -> list[str]:
    """Non-empty addresses, each once, in their first order."""
    return list(dict.fromkeys(value for value in (values or ()) if value))


@dataclass(frozen=True)
class OutgoingEmail:
    """One e-mail to record in the outbox (see ``emails_queue``)."""

    subject: str
    body: str
    recipients: Iterable[str]
    html: str = ""
    sender: str | None = None
    cc: Iterable[str] | None = None
    bcc: Iterable[str] | None = None
    headers: dict[str, str] | None = None


def _email_row(message: OutgoingEmail) -> Email | None:
    to = _addresses(message.recipients)
    if not to:
        return None
    return Email(
        from_email=message.sender or settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=_addresses(message.cc),
        bcc=_addresses(message.bcc),
        subject=message.subject[:989],
        message=message.body,
        html_message=message.html,
        headers=message.headers or None,
        status=STATUS.queued,
        priority=PRIORITY.medium,
        message_id=(make_msgid(domain=get_message_id_fqdn()) if get_message_id_enabled() else None),
    )


def emails_queue(messages: Iterable[OutgoingEmail]) -> list[Email]:
    """Record e-mails in the outbox, in the current transaction, with one INSERT, and have them
    sent after commit by one task (a transition e-mails each of its recipients: one row and one
    broker round trip each made issuing decisions a third slower, issue #13). A message without
    recipient is skipped. Subjects and bodies are stored as they are (never rendered)."""
    rows = [row for row in map(_email_row, messages) if row is not None]
    if not rows:
        return []
    # bulk_create skips the model's full_clean: an address the mail server refuses shows as a
    # failed e-mail in the admin, it never fails the transaction that caused it.
    emails = Email.objects.bulk_create(rows)
    enqueue_after_commit(send_queued_emails, email_ids=[email.pk for email in emails])
    return emails


def email_queue(
    *,
    subject: str,
    body: str,
    recipients: Iterable[str],
    html: str = "",
    sender: str | None = None,
    cc: Iterable[str] | None = None,
    bcc: Iterable[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Email | None:
    """Record one e-mail in the outbox, in the current transaction, and have it sent after
    commit. None (nothing recorded) when there is no recipient."""
    emails = emails_queue(
        [OutgoingEmail(subject, body, recipients, html, sender, cc, bcc, headers)]
    )
    return emails[0] if emails else None


class OutboxEmailBackend(BaseEmailBackend):
    """Django e-mail backend that writes to the outbox instead of sending (allauth, admin)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        try:
            return self._queue_all(email_messages)
        except Exception:
            # mail_admins() from the error handler (AdminEmailHandler) asks for fail_silently:
            # a database that is down must not turn the 500 page into a crash.
            if not self.fail_silently:
                raise
            logger.exception("Courriel non mis en file d'attente (fail_silently).")
            return 0

    def _queue_all(self, email_messages: Sequence[EmailMessage]) -> int:
        count = 0
        for message in email_messages:
            html = next(
                (
                    content
                    for content, mimetype in getattr(message, "alternatives", [])
                    if mimetype == "text/html"
                ),
                "",
            )
            headers = {str(k): str(v) for k, v in message.extra_headers.items()}
            if message.reply_to:
                headers.setdefault("Reply-To", ", ".join(message.reply_to))
            queued = email_queue(
                subject=str(message.subject),
                body=str(message.body),
                html=str(html),
                recipients=message.to,
                sender=message.from_email,
                cc=message.cc,
                bcc=message.bcc,
                headers=headers,
            )
            count += queued is not None
        return count


def emails_due(now: datetime.datetime | None = None) -> QuerySet[Email]:
    """Outbox e-mails waiting to be sent whose (re)try time has come."""
    now = now or timezone.now()
    return Email.objects.filter(
        Q(scheduled_time__isnull=True) | Q(scheduled_time__lte=now),
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        status__in=[STATUS.queued, STATUS.requeued],
    ).order_by("pk")


def retry_delay(retries: int) -> datetime.timedelta:
    """Delay before retry number ``retries + 1``: 1, 2, 4 … minutes, at most an hour."""
    return min(RETRY_FIRST_DELAY * (2 ** min(retries, 16)), RETRY_MAX_DELAY)


def _send_one(pk: int) -> bool:
    """Send one due e-mail under its row lock; True if it left now.

    The lock (skipped when another worker holds it) and the status check make a second
    worker, a redelivered task or a sweep that races the first send skip it: an e-mail is
    sent once. A worker killed between the SMTP answer and the commit leaves the e-mail queued:
    it is sent again (at least once, never lost)."""
    with transaction.atomic():
        email = emails_due().select_for_update(skip_locked=True).filter(pk=pk).first()
        if email is None:  # sent, being sent by another worker, or not due any more
            return False
        now = timezone.now()
        try:
            email.dispatch(commit=False)
        except Exception as error:
            retries = email.number_of_retries or 0
            if retries < get_max_retries():
                fields: dict[str, Any] = {
                    "status": STATUS.requeued,
                    "number_of_retries": retries + 1,
                    "scheduled_time": now + retry_delay(retries),
                }
            else:
                fields = {"status": STATUS.failed}
            Email.objects.filter(pk=pk).update(last_updated=now, **fields)
            Log.objects.create(
                email=email,
                status=STATUS.failed,
                message=str(error)[:2000],
                exception_type=type(error).__name__,
            )
            logger.warning(
                "Envoi de l'e-mail %s impossible (%s) : %s.",
                pk,
                error,
                "nouvel essai prévu" if fields["status"] == STATUS.requeued else "abandonné",
            )
            return False
        Email.objects.filter(pk=pk).update(status=STATUS.sent, last_updated=now)
        Log.objects.create(email=email, status=STATUS.sent, message="")
        return True


def outbox_send(*, ids: Iterable[int] | None = None, limit: int = SEND_BATCH) -> int:
    """Send the due outbox e-mails (only ``ids`` when given); returns how many left now."""
    due = emails_due()
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    return sum(_send_one(pk) for pk in list(due.values_list("pk", flat=True)[:limit]))


def outbox_sweep(*, older_than: datetime.timedelta = datetime.timedelta(minutes=1)) -> int:
    """Queue a send for the due e-mails queued more than ``older_than`` ago (their own task
    was lost, or is a retry); returns how many. A just-queued e-mail is left to its own task
    (sending it twice would be harmless: see :func:`_send_one`)."""
    ids = list(
        emails_due()
        .filter(created__lte=timezone.now() - older_than)
        .values_list("pk", flat=True)[:SEND_BATCH]
    )
    if ids:
        enqueue(send_queued_emails, email_ids=ids)
    return len(ids)


# Declared next to the service that queues it (the tasks module, above every app, re-exports it
# for Celery's discovery); the name is the one published messages carry.
@shared_task(name="essms_portal.tasks.send_queued_emails", ignore_result=True, acks_late=True)
def send_queued_emails(email_ids: list[int] | None = None) -> int:
    """Send the outbox e-mails ``email_ids`` (every due one when None) that are still queued;
    a failure is recorded on the e-mail and retried by the sweep."""
    return outbox_send(ids=email_ids)
