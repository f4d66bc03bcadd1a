"""The e-mail outbox: written in the caller's transaction, sent after commit, retried while the
mail server is down, sent once. allauth's mails go through it too (issue #10, finding 3)."""

from __future__ import annotations

import socket

import pytest
from django.db import transaction
from django.urls import reverse
from post_office.models import STATUS, Email

from essms_portal.outbox import email_queue, outbox_send, retry_delay

pytestmark = pytest.mark.django_db

SMTP = "django.core.mail.backends.smtp.EmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def _closed_port() -> int:
    """A local port nobody listens on (bound then released): the SMTP server is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _deliver_with(settings, backend: str) -> None:
    settings.POST_OFFICE = {**settings.POST_OFFICE, "BACKENDS": {"default": backend}}


def test_a_rolled_back_transaction_queues_and_sends_nothing(
    mailoutbox, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        email_queue(subject="Jamais", body="-", recipients=["a@example.fr"])
        raise RuntimeError("rollback")

    assert not Email.objects.exists()
    assert callbacks == []
    assert mailoutbox == []


def test_signup_with_the_mail_server_down_succeeds_and_the_mail_leaves_once_it_is_back(
    client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "essms_portal.outbox.OutboxEmailBackend"  # as in production
    _deliver_with(settings, SMTP)
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_signup"),
            {
                "email": "nouvelle@example.fr",
                "password1": "Un-mot-de-passe-solide-2023",
                "password2": "Un-mot-de-passe-solide-2023",
            },
        )

    assert response.status_code == 302
    queued = Email.objects.get()
    assert queued.to == ["nouvelle@example.fr"]
    # The send after commit failed (connection refused): recorded, to be retried later.
    assert queued.status == STATUS.requeued
    assert queued.number_of_retries == 1
    assert queued.scheduled_time is not None
    [log] = queued.logs.all()
    assert log.status == STATUS.failed and log.exception_type == "ConnectionRefusedError"
    assert outbox_send() == 0  # not due yet

    # The server is back and the retry is due: the mail leaves, once.
    _deliver_with(settings, LOCMEM)
    Email.objects.filter(pk=queued.pk).update(scheduled_time=None)
    assert outbox_send() == 1
    assert outbox_send() == 0
    [sent] = mailoutbox
    assert sent.to == ["nouvelle@example.fr"]
    assert "/comptes/confirm-email/" in sent.body  # the confirmation link
    assert Email.objects.get().status == STATUS.sent


def test_a_mail_is_given_up_after_the_configured_retries(settings):
    _deliver_with(settings, SMTP)
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    settings.POST_OFFICE = {**settings.POST_OFFICE, "MAX_RETRIES": 2}
    queued = email_queue(subject="Essai", body="-", recipients=["a@example.fr"])
    statuses = []
    for _ in range(3):
        Email.objects.filter(pk=queued.pk).update(scheduled_time=None)
        outbox_send()
        statuses.append(Email.objects.get(pk=queued.pk).status)

    assert statuses == [STATUS.requeued, STATUS.requeued, STATUS.failed]
    assert queued.logs.filter(status=STATUS.failed).count() == 3
    assert [retry_delay(n).total_seconds() for n in (0, 1, 2, 10)] == [60, 120, 240, 3600]
