"""Read side of the follow-up (keyword-only, typed): grants in a user's scope and their stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from applications.models import Application, Decision
from applications.selectors import applications_visible_to
from essms_portal.accounts.models import ARS_ROLES, Role, User

from .models import (
    Amendment,
    BankDetails,
    Convention,
    GrantLog,
    Measurement,
    PaymentBatch,
    PaymentOrder,
)


def grants_followed_by(*, user: User) -> QuerySet[Application]:
    """Granted dossiers (accepted decision issued) a back-office user follows: their region's
    regional dossiers (ARS), the national call's (CNSA); administrators read every one."""
    granted = Application.objects.filter(decision__outcome=Decision.Outcome.ACCEPTED)
    if user.role in ARS_ROLES and user.region_id:
        return granted.filter(call__scope="regional", call__region_id=user.region_id)
    if user.role == Role.CNSA_AGENT:
        return granted.filter(call__scope="national")
    if user.role == Role.ADMINISTRATOR:
        return granted
    return Application.objects.none()


CONVENTION_STATUS_LABELS = dict(Convention.Status.choices)


def grants_closed(*, user: User) -> QuerySet[Application]:
    """The user's followed grants whose convention is closed (*soldée*)."""
    return grants_followed_by(user=user).filter(
        decision__convention__status=Convention.Status.CLOSED
    )


def follow_up_queue(*, user: User, closed: bool = False) -> QuerySet[Application]:
    """The follow-up queue with what each row shows (convention, counts to act on), in a fixed
    number of queries: counts are correlated subqueries, not joins. Closed grants leave it
    (nothing is left to act on); ``closed=True`` lists them alone."""
    pending_measurements = Measurement.objects.filter(
        structure__memberships__grappe_id=OuterRef("grappe_id"),
        status=Measurement.Status.PENDING,
    )
    followed = grants_followed_by(user=user)
    closed_status = Q(decision__convention__status=Convention.Status.CLOSED)
    return (
        (followed.filter(closed_status) if closed else followed.exclude(closed_status))
        .select_related("grappe__porteur", "call__region", "decision")
        .annotate(
            convention_status=Subquery(
                Convention.objects.filter(decision__application_id=OuterRef("pk")).values("status")[
                    :1
                ]
            ),
            orders_to_export=Count(
                "payment_orders", filter=Q(payment_orders__status=PaymentOrder.Status.ISSUED)
            ),
            bank_to_validate=Exists(
                BankDetails.objects.filter(
                    application_id=OuterRef("pk"), status=BankDetails.Status.PENDING
                )
            ),
            measurements_to_check=Exists(pending_measurements),
        )
        .order_by("-decision__issued_at")
    )


def grant_for_follow_up(*, user: User, pk: int) -> Application:
    """One granted dossier of the user's follow-up scope, or 404."""
    try:
        return (
            grants_followed_by(user=user)
            .select_related("grappe__porteur", "call__campaign", "call__region", "decision")
            .get(pk=pk)
        )
    except Application.DoesNotExist:
        raise Http404("Subvention introuvable.") from None


def grant_for_applicant(*, user: User, pk: int) -> Application:
    """One granted dossier the applicant may read (confirmed member of a participant), or 404."""
    try:
        return (
            applications_visible_to(user=user)
            .filter(decision__outcome=Decision.Outcome.ACCEPTED)
            .select_related("grappe__porteur", "call__campaign", "decision")
            .get(pk=pk)
        )
    except Application.DoesNotExist:
        raise Http404("Subvention introuvable.") from None


#: The follow-up log's event of a computed second tranche (``settlement.second_tranche_settle``),
#: whatever it gave: an order, a recovery, or nothing due.
SETTLEMENT_EVENT = "settlement_computed"


@dataclass(frozen=True)
class Schedule:
    """What the porteur was granted, what was ordered and paid, what is still due."""

    total: int
    first_tranche: int
    second_tranche_max: int
    ordered: int
    paid: int
    recovered: int
    #: The second tranche was computed: nothing more will be ordered.
    settled: bool = False

    @property
    def remaining(self) -> int:
        if self.settled:
            return 0
        return max(0, self.total - self.ordered + self.recovered)


def settlement_computed(convention: Convention) -> bool:
    """Whether the second tranche of ``convention`` was computed, whatever it gave (its order
    issued, a recovery, or nothing due): it is computed once."""
    return (
        PaymentOrder.objects.filter(convention=convention, kind=PaymentOrder.Kind.SECOND).exists()
        or GrantLog.objects.filter(
            application_id=convention.decision.application_id, event=SETTLEMENT_EVENT
        ).exists()
    )


def grant_schedule(*, application: Application) -> Schedule:
    """The schedule of the amounts in force: the decision's until a convention exists, then the
    convention's, or its latest validated amendment's (``grant_effective_snapshot``)."""
    decision = application.decision
    convention = grant_convention(application=application)
    snapshot = grant_effective_snapshot(convention=convention) if convention else decision.snapshot
    tranches = snapshot.get("tranches") or [{"amount": 0}, {"amount": 0}]
    orders = list(PaymentOrder.objects.filter(application=application))
    paying = [o for o in orders if o.kind != PaymentOrder.Kind.RECOVERY]
    return Schedule(
        total=int(snapshot["total"]) if convention else int(decision.total),
        first_tranche=int(tranches[0]["amount"]),
        second_tranche_max=int(tranches[1]["amount"]) if len(tranches) > 1 else 0,
        ordered=sum(int(o.amount) for o in paying),
        paid=sum(int(o.amount) for o in paying if o.status == PaymentOrder.Status.PAID),
        recovered=sum(int(o.amount) for o in orders if o.kind == PaymentOrder.Kind.RECOVERY),
        settled=convention is not None and settlement_computed(convention),
    )


def grant_convention(*, application: Application) -> Convention | None:
    return Convention.objects.filter(decision__application=application).first()


def grant_effective_snapshot(*, convention: Convention) -> dict[str, Any]:
    """The grant's amounts in force — ``lines``, ``supports``, ``total``, ``tranches`` — as
    frozen by its latest validated amendment (avenant), else by the convention itself. The one
    home of that rule: the schedule, the settlement, the next amendment and the pages ask it."""
    latest = (
        Amendment.objects.filter(convention=convention, status=Amendment.Status.VALIDATED)
        .order_by("-validated_at", "-id")
        .values_list("snapshot", flat=True)
        .first()
    )
    return latest if latest is not None else convention.snapshot


def grant_lines_left_by_amendment(*, convention: Convention) -> list[dict[str, Any]]:
    """The ESSMS lines a validated amendment took out of the grant and none put back, each as it
    stood before it left (FINESS order): the settlement counts them as departed, so the
    campaign's policy on a leaver's first-tranche share (``recover_leavers``) applies."""
    effective = {
        line["finess"] for line in grant_effective_snapshot(convention=convention)["lines"]
    }
    left: dict[str, dict[str, Any]] = {}
    for snapshot in (
        Amendment.objects.filter(convention=convention, status=Amendment.Status.VALIDATED)
        .order_by("validated_at", "id")
        .values_list("snapshot", flat=True)
    ):
        for line in snapshot.get("left", []):
            left[line["finess"]] = line
    return [line for finess, line in sorted(left.items()) if finess not in effective]


def grant_amendments(*, convention: Convention) -> QuerySet[Amendment]:
    """The convention's amendments, oldest first, with who prepared and validated them."""
    return (
        Amendment.objects.filter(convention=convention)
        .select_related("drafted_by", "validated_by")
        .order_by("drafted_at", "id")
    )


def grant_log(*, application: Application) -> QuerySet[GrantLog]:
    return GrantLog.objects.filter(application=application).order_by("id")


def grant_measurements(*, application: Application) -> QuerySet[Measurement]:
    """Measurements of the grappe's ESSMS for the grant's campaign, latest first."""
    return (
        Measurement.objects.filter(
            structure__memberships__grappe_id=application.grappe_id,
            indicator__campaign_id=application.call.campaign_id,
        )
        .select_related("structure", "indicator", "reviewed_by")
        .order_by("status", "structure__finess", "indicator__position", "-measured_on")
    )


def payment_batches_visible_to(*, user: User) -> QuerySet[PaymentBatch]:
    """Batches of orders transmitted from grants the user follows (administrators: every one),
    latest first."""
    followed = PaymentOrder.objects.filter(
        batch_id=OuterRef("pk"), application__in=grants_followed_by(user=user)
    )
    return (
        PaymentBatch.objects.filter(Exists(followed))
        .select_related("campaign", "created_by")
        .order_by("-created_at", "-number")
    )


def payment_batch_for(*, user: User, pk: int) -> PaymentBatch:
    """One batch of the user's scope, or 404."""
    try:
        return payment_batches_visible_to(user=user).get(pk=pk)
    except PaymentBatch.DoesNotExist:
        raise Http404("Bordereau introuvable.") from None


def payment_batch_orders(*, batch: PaymentBatch) -> QuerySet[PaymentOrder]:
    """The batch's orders in number order, with their grant and convention."""
    return batch.orders.select_related("application__grappe", "convention__decision").order_by(
        "number"
    )
