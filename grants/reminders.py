"""Reminders by e-mail before a grant's follow-up deadlines (issue #15), sent by a daily task
(``grants.tasks.send_follow_up_reminders``, or ``manage.py follow_up_reminders``).

Two deadlines, from the campaign's follow-up parameters (``FollowUpParameters``):

- **convention**: ``convention_deadline``, while the convention is drafted and not yet signed
  by the porteur;
- **measurement**: ``measurement_deadline``, while the convention is countersigned (not closed,
  second tranche not ordered) and a funded ESSMS still lacks a validated measurement of a target
  that applies to it. Which target applies to which ESSMS is the settlement rules' answer
  (``funding.settlement.essms_outcome`` on ``grants.settlement.settlement_request_for``).

For each offset of ``reminder_days_before`` ("30,7"), the porteur is reminded once, when the
deadline is that many days away or less (never after it). A day the task did not run is caught
up with a single e-mail: the offsets reached since are recorded together (``FollowUpReminder``),
in the transaction that records the e-mail in the outbox, so a second run sends nothing more.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import timezone

from applications.models import Application
from essms_portal.accounts.models import Role, User
from essms_portal.links import portal_reverse
from essms_portal.outbox import email_queue
from funding.settlement import DEPARTED, essms_outcome
from grappes.models import OrganisationMember, Structure

from .models import (
    BankDetails,
    Convention,
    FollowUpParameters,
    FollowUpReminder,
    Measurement,
    PaymentOrder,
    reminder_days,
)
from .selectors import grant_effective_snapshot, settlement_computed
from .settlement import settlement_request_for

logger = logging.getLogger(__name__)

#: The e-mail's templates: ``<name>_subject.txt``, ``<name>.txt`` and ``<name>.html``.
REMINDER_TEMPLATE = "grants/emails/follow_up_reminder"
#: The largest offset ``reminder_days`` accepts: no deadline further away is looked at.
MAX_OFFSET = 365


@dataclass(frozen=True)
class MissingMeasurements:
    """A funded ESSMS and the labels of the targets it has no validated measurement for."""

    finess: str
    name: str
    indicators: tuple[str, ...]


@dataclass(frozen=True)
class Due:
    """A deadline of a grant whose reminder may be due today."""

    convention: Convention
    kind: str
    deadline: datetime.date
    offsets: tuple[int, ...]


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def offsets_to_record(
    *, offsets: tuple[int, ...], deadline: datetime.date, today: datetime.date, recorded: set[int]
) -> list[int]:
    """The offsets to record today, smallest first: every offset reached (the deadline is that
    many days away or less, and not past) and not yet recorded — none when the smallest reached
    one is recorded already (its reminder, the most recent one, went)."""
    if today > deadline:
        return []
    left = (deadline - today).days
    reached = [offset for offset in offsets if left <= offset]
    if not reached or min(reached) in recorded:
        return []
    return sorted(offset for offset in reached if offset not in recorded)


def porteur_emails(*, application: Application) -> list[str]:
    """Who is reminded: the porteur's confirmed gestionnaire members, active — those who sign
    the convention (``permissions.can_sign_convention``), asked for the whole set at once. The
    same query as ``applications.notifications.applicant_emails``, narrowed to the porteur."""
    return sorted(
        set(
            User.objects.filter(
                role=Role.GESTIONNAIRE,
                is_active=True,
                # Both conditions in one filter(): on the same membership.
                organisation_memberships__organisation_id=application.grappe.porteur_id,
                organisation_memberships__status=OrganisationMember.Status.CONFIRMED,
            ).values_list("email", flat=True)
        )
    )


def measurements_missing(*, convention: Convention) -> tuple[MissingMeasurements, ...]:
    """The funded ESSMS still in the project lacking a validated measurement of a target that
    applies to them (exemptions respected): the settlement rules decide which apply."""
    request = settlement_request_for(convention=convention)
    labels = {target.code: target.label for target in request.targets}
    lacking: list[tuple[str, tuple[str, ...]]] = []
    for line in request.grant.lines:
        outcome = essms_outcome(line, request)
        if outcome.status == DEPARTED:
            continue
        codes = tuple(i.code for i in outcome.indicators if i.applies and i.value is None)
        if codes:
            lacking.append((line.finess, tuple(labels[code] for code in codes)))
    names = dict(
        Structure.objects.filter(finess__in=[finess for finess, _ in lacking]).values_list(
            "finess", "name"
        )
    )
    return tuple(
        MissingMeasurements(finess=finess, name=names.get(finess, ""), indicators=indicators)
        for finess, indicators in lacking
    )


@dataclass(frozen=True)
class PorteurTodo:
    """What the porteur must still do on a grant, and by when (the reminders' subject, shown on
    the porteur's follow-up page too)."""

    sign_by: datetime.date | None = None  # the convention to sign (its deadline, if any)
    must_sign: bool = False
    bank_details_missing: bool = False
    measurements_by: datetime.date | None = None
    measurements: tuple[MissingMeasurements, ...] = ()
    awaiting_check: int = 0  # measurements given, waiting for the ARS

    @property
    def empty(self) -> bool:
        return not (self.must_sign or self.bank_details_missing or self.measurements)


def porteur_todo(*, convention: Convention | None, application: Application) -> PorteurTodo:
    """The porteur's to-do list of a grant: the convention to sign (by the campaign's convention
    deadline), bank details to enter, and while the targets run (countersigned, second tranche not
    computed) the measurements still missing per ESSMS (by the measurement deadline) — the same
    rules as the reminders (``measurements_missing``)."""
    bank_missing = not BankDetails.objects.filter(
        application=application, status=BankDetails.Status.ACTIVE
    ).exists()
    if convention is None or convention.status == Convention.Status.CLOSED:
        return PorteurTodo()
    follow_up = FollowUpParameters.objects.filter(
        campaign_id=convention.decision.campaign_id
    ).first()
    if convention.status == Convention.Status.DRAFTED:
        return PorteurTodo(
            must_sign=True,
            sign_by=follow_up.convention_deadline if follow_up else None,
            bank_details_missing=bank_missing,
        )
    if convention.status != Convention.Status.COUNTERSIGNED or settlement_computed(convention):
        return PorteurTodo(bank_details_missing=bank_missing)
    missing = measurements_missing(convention=convention)
    finess = [line["finess"] for line in grant_effective_snapshot(convention=convention)["lines"]]
    return PorteurTodo(
        bank_details_missing=bank_missing,
        measurements_by=follow_up.measurement_deadline if follow_up else None,
        measurements=missing,
        awaiting_check=Measurement.objects.filter(
            status=Measurement.Status.PENDING,
            indicator__campaign_id=convention.decision.campaign_id,
            structure__finess__in=finess,
        ).count(),
    )


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------


def _campaign_offsets() -> dict[int, tuple[int, ...]]:
    """Each campaign's reminder offsets; a campaign without any (or with an unreadable list,
    which the admin's validation prevents) reminds nobody."""
    offsets: dict[int, tuple[int, ...]] = {}
    for campaign_id, value in FollowUpParameters.objects.values_list(
        "campaign_id", "reminder_days_before"
    ):
        try:
            days = tuple(reminder_days(value))
        except ValueError:
            logger.error("Relances de la campagne %s illisibles : %r", campaign_id, value)
            continue
        if days:
            offsets[campaign_id] = days
    return offsets


def _candidates(*, today: datetime.date) -> Iterator[Due]:
    """The deadlines within reach (from today to ``MAX_OFFSET`` days ahead) of the grants at the
    stage they concern; whether a reminder is due is decided per grant afterwards."""
    offsets = _campaign_offsets()
    if not offsets:
        return
    horizon = today + datetime.timedelta(days=MAX_OFFSET)
    conventions = Convention.objects.filter(decision__campaign_id__in=offsets).select_related(
        "decision__application__grappe", "decision__campaign__follow_up"
    )
    for convention in conventions.filter(
        status=Convention.Status.DRAFTED,
        decision__campaign__follow_up__convention_deadline__range=(today, horizon),
    ).order_by("pk"):
        follow_up = convention.decision.campaign.follow_up
        assert follow_up.convention_deadline is not None  # filtered above
        yield Due(
            convention,
            FollowUpReminder.Kind.CONVENTION,
            follow_up.convention_deadline,
            offsets[convention.decision.campaign_id],
        )
    for convention in (
        conventions.filter(
            status=Convention.Status.COUNTERSIGNED,
            decision__campaign__follow_up__measurement_deadline__range=(today, horizon),
        )
        .exclude(payment_orders__kind=PaymentOrder.Kind.SECOND)
        .order_by("pk")
    ):
        yield Due(
            convention,
            FollowUpReminder.Kind.MEASUREMENT,
            convention.decision.campaign.follow_up.measurement_deadline,
            offsets[convention.decision.campaign_id],
        )


def _still_concerned(convention: Convention, kind: str) -> bool:
    """The grant is still at the stage the reminder is about (read under the row's lock)."""
    if kind == FollowUpReminder.Kind.CONVENTION:
        return convention.status == Convention.Status.DRAFTED
    return (
        convention.status == Convention.Status.COUNTERSIGNED
        and not PaymentOrder.objects.filter(
            convention=convention, kind=PaymentOrder.Kind.SECOND
        ).exists()
    )


# --------------------------------------------------------------------------------------------
# Service
# --------------------------------------------------------------------------------------------


def _render(context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of the reminder. The text parts are rendered without
    autoescaping (an organisation « Soins & Cie » stays so), the HTML part with it."""
    full = {"portal_name": settings.PORTAL_NAME, **context}
    engine = engines["django"].engine  # type: ignore[attr-defined]

    def plain(name: str) -> str:
        return str(engine.get_template(name).render(Context(full, autoescape=False)))

    subject = " ".join(plain(f"{REMINDER_TEMPLATE}_subject.txt").split())
    return (
        subject,
        plain(f"{REMINDER_TEMPLATE}.txt"),
        render_to_string(f"{REMINDER_TEMPLATE}.html", full),
    )


def _recorded(application: Application, due: Due) -> set[int]:
    """The offsets already recorded for this deadline of this grant (read afresh each time)."""
    return set(
        FollowUpReminder.objects.filter(
            application=application, kind=due.kind, deadline=due.deadline
        ).values_list("days_before", flat=True)
    )


def _remind(due: Due, *, today: datetime.date) -> int:
    """Send the reminder of one deadline of one grant if one is due; the e-mails queued."""
    application = due.convention.decision.application
    if not offsets_to_record(
        offsets=due.offsets,
        deadline=due.deadline,
        today=today,
        recorded=_recorded(application, due),
    ):
        return 0  # the usual case, decided without a lock
    with transaction.atomic():
        # The convention's row lock serialises overlapping runs; what they read is read again.
        convention = Convention.objects.select_for_update().get(pk=due.convention.pk)
        if not _still_concerned(convention, due.kind):
            return 0
        offsets = offsets_to_record(
            offsets=due.offsets,
            deadline=due.deadline,
            today=today,
            recorded=_recorded(application, due),
        )
        if not offsets:
            return 0
        missing: tuple[MissingMeasurements, ...] = ()
        if due.kind == FollowUpReminder.Kind.MEASUREMENT:
            try:
                missing = measurements_missing(convention=convention)
            except ValueError:  # the rules refuse inconsistent data: nothing to say for sure
                logger.exception("Relance des mesures du dossier %s impossible.", application.pk)
                return 0
            if not missing:
                return 0
        recipients = porteur_emails(application=application)
        if not recipients:
            # Nothing recorded: the porteur's first confirmed member gets the next reminder.
            logger.warning(
                "Relance du dossier %s : aucun membre confirmé du porteur.", application.pk
            )
            return 0
        subject, body, html = _render(
            {
                "application": application,
                "convention": convention,
                "kind": due.kind,
                "deadline": due.deadline,
                "days_left": (due.deadline - today).days,
                "missing": missing,
                "link": portal_reverse("grants:espace_grant", kwargs={"pk": application.pk}),
            }
        )
        for email in recipients:
            email_queue(subject=subject, body=body, html=html, recipients=[email])
        now = timezone.now()
        FollowUpReminder.objects.bulk_create(
            FollowUpReminder(
                application=application,
                kind=due.kind,
                deadline=due.deadline,
                days_before=offset,
                sent_at=now,
            )
            for offset in offsets
        )
    return len(recipients)


def follow_up_reminders_send(*, today: datetime.date) -> int:
    """Remind the porteurs of the deadlines near ``today`` (each reminder once); returns the
    number of e-mails queued (one per recipient: porteur members do not see each other's
    address)."""
    return sum(_remind(due, today=today) for due in _candidates(today=today))
