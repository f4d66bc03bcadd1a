"""Read side of the follow-up (keyword-only, typed): grants in a user's scope and their stage."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from applications.models import Application, Decision
from applications.selectors import applications_visible_to
from essms_portal.accounts.models import ARS_ROLES, Role, User

from .models import BankDetails, Convention, GrantLog, Measurement, PaymentOrder


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


def follow_up_queue(*, user: User) -> QuerySet[Application]:
    """The follow-up queue with what each row shows (convention, counts to act on), in a fixed
    number of queries: counts are correlated subqueries, not joins."""
    pending_measurements = Measurement.objects.filter(
        structure__memberships__grappe_id=OuterRef("grappe_id"),
        status=Measurement.Status.PENDING,
    )
    return (
        grants_followed_by(user=user)
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


@dataclass(frozen=True)
class Schedule:
    """What the porteur was granted, what was ordered and paid, what is still due."""

    total: int
    first_tranche: int
    second_tranche_max: int
    ordered: int
    paid: int
    recovered: int

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.ordered + self.recovered)


def grant_schedule(*, application: Application) -> Schedule:
    decision = application.decision
    tranches = decision.snapshot.get("tranches") or [{"amount": 0}, {"amount": 0}]
    orders = list(PaymentOrder.objects.filter(application=application))
    paying = [o for o in orders if o.kind != PaymentOrder.Kind.RECOVERY]
    return Schedule(
        total=int(decision.total),
        first_tranche=int(tranches[0]["amount"]),
        second_tranche_max=int(tranches[1]["amount"]) if len(tranches) > 1 else 0,
        ordered=sum(int(o.amount) for o in paying),
        paid=sum(int(o.amount) for o in paying if o.status == PaymentOrder.Status.PAID),
        recovered=sum(int(o.amount) for o in orders if o.kind == PaymentOrder.Kind.RECOVERY),
    )


def grant_convention(*, application: Application) -> Convention | None:
    return Convention.objects.filter(decision__application=application).first()


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
