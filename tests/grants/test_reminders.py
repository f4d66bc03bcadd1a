"""Reminders before the follow-up deadlines (issue #15 §8): one e-mail per offset reached, to the
porteur's confirmed members only, recorded with the reminders in one transaction; idempotent,
a missed day caught up with one e-mail, nothing after the deadline or once the porteur has done
what was asked. Through the real outbox, delivered to ``mailoutbox`` after commit."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from post_office.models import Email

from essms_portal.accounts.models import Role
from grants.models import (
    Convention,
    FollowUpParameters,
    FollowUpReminder,
    Measurement,
    PaymentOrder,
    UsageIndicator,
)
from grants.permissions import can_sign_convention
from grants.reminders import follow_up_reminders_send, offsets_to_record, porteur_emails
from grants.services import convention_countersign, convention_draft, convention_sign
from grants.settlement import second_tranche_settle
from grants.tasks import send_follow_up_reminders
from grappes.models import CasfCategory, GrappeOrganisation, OrganisationMember
from tests.applications.helpers import ars
from tests.conftest import ensure_referential
from tests.factories import OrganisationFactory, UserFactory, confirmed_member
from tests.grants.test_conventions import Grant, pdf
from tests.grants.test_second_tranche import measure

pytestmark = pytest.mark.django_db

DEADLINE = datetime.date(2024, 12, 31)  # the test campaign's measurement deadline (2023 + 1)


def days_before(n: int) -> datetime.date:
    return DEADLINE - datetime.timedelta(days=n)


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    return Grant()


@pytest.fixture
def countersigned(grant: Grant) -> Convention:
    convention = grant.signed()
    convention_countersign(convention=convention, by=grant.valideur)
    convention.refresh_from_db()
    return convention


@pytest.fixture
def run(
    mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> Callable[[datetime.date], int]:
    """Run the service as of a day and deliver what it queued (the after-commit send)."""

    def _run(today: datetime.date) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return follow_up_reminders_send(today=today)

    return _run


def porteurs(grant: Grant) -> list[str]:
    """The porteur's confirmed members in the fixture: the one who submitted and ``porteur``."""
    return sorted(porteur_emails(application=grant.application))


@pytest.mark.parametrize(
    ("left", "recorded", "expected"),
    [
        (31, set(), []),
        (30, set(), [30]),
        (29, {30}, []),
        (7, {30}, [7]),
        (5, set(), [7, 30]),  # a missed reminder is recorded with the next, one e-mail
        (0, {30}, [7]),  # the deadline's day still reminds
        (0, {7}, []),  # the smallest reached already went
        (-1, set(), []),  # past the deadline: never
    ],
)
def test_offsets_to_record(left: int, recorded: set[int], expected: list[int]) -> None:
    assert (
        offsets_to_record(
            offsets=(30, 7), deadline=DEADLINE, today=days_before(left), recorded=recorded
        )
        == expected
    )


def test_measurement_reminders_at_each_offset_once(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    assert run(days_before(31)) == 0
    recipients = porteurs(grant)
    assert len(recipients) == 2 and grant.porteur.email in recipients

    assert run(days_before(30)) == 2
    assert sorted(mail.to[0] for mail in mailoutbox) == recipients
    assert all(len(mail.to) == 1 for mail in mailoutbox)  # nobody sees the others' address
    mail = mailoutbox[0]
    assert "mesures d'usage attendues avant le 31/12/2024" in mail.subject
    assert f"dossier n° {grant.application.pk}" in mail.subject
    line = grant.application.grappe.memberships.order_by("id").first()
    assert f"FINESS {line.structure.finess}" in mail.body
    assert "DUI actifs, Messages MSSanté envoyés, Documents versés au DMP" in mail.body
    assert "dans 30 jours" in mail.body
    link = reverse("grants:espace_grant", args=[grant.application.pk])
    assert f"{settings.PORTAL_BASE_URL}{link}" in mail.body
    [(html, mimetype)] = mail.alternatives
    assert mimetype == "text/html" and f'href="{settings.PORTAL_BASE_URL}{link}"' in html

    # Idempotent: the same day, and the following days until the next offset, send nothing.
    emails = Email.objects.count()
    assert run(days_before(30)) == 0
    assert run(days_before(8)) == 0
    assert Email.objects.count() == emails and len(mailoutbox) == 2

    assert run(days_before(7)) == 2
    assert run(days_before(7)) == 0
    assert run(DEADLINE) == 0  # J-7 went: nothing more on the deadline's day
    assert run(days_before(-1)) == 0
    assert len(mailoutbox) == 4
    assert sorted(
        FollowUpReminder.objects.filter(application=grant.application).values_list(
            "kind", "deadline", "days_before"
        )
    ) == [("measurement", DEADLINE, 7), ("measurement", DEADLINE, 30)]


def test_a_missed_day_is_caught_up_with_one_email(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    assert run(days_before(5)) == 2  # one e-mail for each of the two porteur members
    assert len(mailoutbox) == 2 and "dans 5 jours" in mailoutbox[0].body
    assert sorted(FollowUpReminder.objects.values_list("days_before", flat=True)) == [7, 30]
    assert run(days_before(5)) == 0
    assert run(days_before(1)) == 0
    assert len(mailoutbox) == 2


def test_nothing_after_the_deadline(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    emails = Email.objects.count()  # the workflow's e-mails of the fixture
    assert run(days_before(-1)) == 0
    assert mailoutbox == [] and not FollowUpReminder.objects.exists()
    assert Email.objects.count() == emails


def test_nothing_when_every_applicable_target_has_a_validated_measurement(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    # Measured below the thresholds: the targets are missed, but nothing is missing.
    measure(grant, meeting=0)
    assert run(days_before(30)) == 0
    assert mailoutbox == [] and not FollowUpReminder.objects.exists()

    # A measurement back to "pending" no longer counts: that ESSMS and indicator are named.
    first = grant.application.grappe.memberships.order_by("id").first().structure
    last = grant.application.grappe.memberships.order_by("id").last().structure
    Measurement.objects.filter(structure=first, indicator__code="DMP").update(
        status=Measurement.Status.PENDING
    )
    assert run(days_before(30)) == 2
    body = mailoutbox[0].body
    assert f"FINESS {first.finess}) : Documents versés au DMP\n" in body
    assert last.finess not in body


def test_a_target_that_does_not_apply_is_not_asked_for(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    """Applicability is the settlement rules' answer: MSSanté restricted to the AHI item (8°),
    the grappe's EHPAD (6°) owe no MSSanté measurement."""
    campaign = grant.application.call.campaign
    measure(grant, meeting=15)
    Measurement.objects.filter(indicator__code="MSSANTE").delete()
    mssante = UsageIndicator.objects.get(campaign=campaign, code="MSSANTE")
    mssante.casf_items.set([CasfCategory.objects.get(code="8°")])
    assert run(days_before(30)) == 0
    mssante.casf_items.clear()  # every item again: now MSSanté is missing everywhere
    assert run(days_before(30)) == 2
    assert "Messages MSSanté envoyés" in mailoutbox[0].body


def test_nothing_once_the_second_tranche_is_ordered(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    measure(grant, meeting=15)
    first = grant.application.grappe.memberships.order_by("id").first().structure
    Measurement.objects.filter(structure=first, indicator__code="DMP").delete()
    assert run(days_before(30)) == 2
    order = second_tranche_settle(convention=countersigned, by=grant.valideur)
    assert order is not None and order.kind == PaymentOrder.Kind.SECOND
    assert run(days_before(7)) == 0
    assert len(mailoutbox) == 2


def test_convention_reminders_until_the_porteur_signs(
    grant: Grant, run: Any, mailoutbox: list[Any]
) -> None:
    campaign = grant.application.call.campaign
    deadline = datetime.date(2024, 3, 31)
    convention = convention_draft(decision=grant.decision, by=grant.instructeur)
    assert run(deadline - datetime.timedelta(days=7)) == 0  # no convention deadline: nothing
    FollowUpParameters.objects.filter(campaign=campaign).update(convention_deadline=deadline)

    assert run(deadline - datetime.timedelta(days=30)) == 2
    mail = mailoutbox[0]
    assert f"convention n° {convention.number} à signer avant le 31/03/2024" in mail.subject
    assert "attend votre signature" in mail.body
    assert FollowUpReminder.objects.get().kind == "convention"

    grant.bank()
    convention_sign(convention=convention, by=grant.porteur, signed_copy=pdf())
    assert run(deadline - datetime.timedelta(days=7)) == 0
    assert len(mailoutbox) == 2


def test_no_reminder_without_offsets(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        reminder_days_before=""
    )
    assert run(days_before(1)) == 0
    assert mailoutbox == []


def test_recipients_are_the_porteurs_confirmed_members_only(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    application = grant.application
    porteur = application.grappe.porteur
    pending = UserFactory()
    OrganisationMember.objects.create(organisation=porteur, user=pending)
    inactive = UserFactory(is_active=False)
    confirmed_member(inactive, porteur)
    agent = ars(Role.ARS_INSTRUCTEUR)
    confirmed_member(agent, porteur)
    partner = OrganisationFactory()
    GrappeOrganisation.objects.create(
        grappe=application.grappe, organisation=partner, confirmed_at=timezone.now()
    )
    partner_member = UserFactory()
    confirmed_member(partner_member, partner)

    assert run(days_before(30)) == 2
    sent_to = sorted(mail.to[0] for mail in mailoutbox)
    assert grant.porteur.email in sent_to
    # The same people as the predicate of who signs the convention, nobody else.
    for user in (grant.porteur, pending, inactive, agent, partner_member, grant.stranger):
        expected = can_sign_convention(user, application) and user.is_active
        assert (user.email in sent_to) is expected, user.email


def test_no_recipient_records_nothing(
    grant: Grant, countersigned: Convention, run: Any, mailoutbox: list[Any]
) -> None:
    OrganisationMember.objects.filter(organisation=grant.application.grappe.porteur).update(
        status=OrganisationMember.Status.PENDING, confirmed_at=None
    )
    emails = Email.objects.count()
    assert run(days_before(30)) == 0
    assert not FollowUpReminder.objects.exists() and Email.objects.count() == emails


def test_daily_task_command_and_beat_schedule(
    grant: Grant, countersigned: Convention, mailoutbox: list[Any], capsys: Any
) -> None:
    today = timezone.localdate()
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        measurement_deadline=today + datetime.timedelta(days=7)
    )
    assert send_follow_up_reminders() == 2
    assert send_follow_up_reminders() == 0
    schedule = settings.CELERY_BEAT_SCHEDULE["follow-up-reminders"]
    assert schedule["task"] == "grants.tasks.send_follow_up_reminders"
    assert schedule["schedule"] == 24 * 60 * 60

    call_command("follow_up_reminders", "--date", today.isoformat())
    assert "0 courriel de relance mis en file." in capsys.readouterr().out
    FollowUpReminder.objects.all().delete()
    call_command("follow_up_reminders", "--date", today.isoformat())
    assert "2 courriels de relance mis en file." in capsys.readouterr().out
    with pytest.raises(CommandError, match="AAAA-MM-JJ"):
        call_command("follow_up_reminders", "--date", "31/12/2024")
    assert FollowUpReminder.objects.count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_runs_at_once_send_each_reminder_once(private_storage: Any) -> None:
    """Overlapping runs (a retried task, the command during the beat's run): the convention's
    row lock and the recorded offsets read again under it let one of them send."""
    if connection.vendor != "postgresql":
        pytest.skip("Row locks need PostgreSQL (CI runs this test on PostgreSQL).")
    ensure_referential()
    grant = Grant()
    convention_countersign(convention=grant.signed(), by=grant.valideur)
    emails = Email.objects.count()
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            sent.append(follow_up_reminders_send(today=days_before(5)))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == [0, 2]
    assert Email.objects.count() == emails + 2
    assert sorted(FollowUpReminder.objects.values_list("days_before", flat=True)) == [7, 30]
