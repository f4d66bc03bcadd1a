"""Second tranche: the portal's data mapped to the pure rules (``funding.settlement``) and the
resulting order (second tranche, or *titre de recette*) issued.

What counts as paid is what was **ordered** (first and second tranches, minus recoveries):
an order is a commitment as soon as it is issued, paid or not yet (product rule: the
settlement must not order twice what is already on its way to the finance department).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from applications.models import Campaign
from essms_portal.accounts.models import User
from funding.settlement import (
    Exemption,
    GrantInput,
    GrantLine,
    Payments,
    SettlementPolicy,
    SettlementRequest,
    SettlementResult,
    UsageTarget,
    compute_settlement,
)
from grappes.models import GrappeMembership

from .models import (
    Convention,
    FollowUpParameters,
    IndicatorExemption,
    Measurement,
    PaymentOrder,
    UsageIndicator,
)
from .permissions import SETTLEMENT_EVENT, can_follow_up, settlement_blocker
from .selectors import grant_effective_snapshot, grant_lines_left_by_amendment
from .services import (
    GrantError,
    bank_details_active,
    grant_log_append,
    payment_order_issue,
    require_allowed,
)


def _ordered(convention: Convention) -> Payments:
    sums = dict(
        PaymentOrder.objects.filter(convention=convention)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    return Payments(
        first_tranche=int(sums.get(PaymentOrder.Kind.FIRST, 0)),
        second_tranche=int(sums.get(PaymentOrder.Kind.SECOND, 0)),
        recovered=int(sums.get(PaymentOrder.Kind.RECOVERY, 0)),
    )


def settlement_lines(
    *, snapshot: Mapping[str, Any], segur_referenced: Mapping[str, bool | None]
) -> tuple[GrantLine, ...]:
    """The funded ESSMS of a grant's snapshot (lines of an amount > 0), with their CASF item and
    whether their DUI is Ségur-referenced (``segur_referenced``: FINESS → flag, from the grappe)."""
    return tuple(
        GrantLine(
            finess=line["finess"],
            amount=int(line["amount"]),
            casf_item=line.get("casf_item") or None,
            segur_referenced=bool(segur_referenced.get(line["finess"])),
        )
        for line in snapshot["lines"]
        if int(line["amount"]) > 0
    )


def settlement_targets(
    *, campaign_id: int
) -> tuple[tuple[UsageTarget, ...], tuple[Exemption, ...]]:
    """The campaign's usage indicators and exemptions as the rules' targets and exemptions
    (three queries, whatever the number of grants they are applied to)."""
    indicators = list(
        UsageIndicator.objects.filter(campaign_id=campaign_id).prefetch_related("casf_items")
    )
    targets = tuple(
        UsageTarget(
            code=i.code,
            label=i.label,
            threshold=i.threshold,
            unit=i.unit,
            casf_items=frozenset(item.code for item in i.casf_items.all()),
        )
        for i in indicators
    )
    grouped: dict[tuple[str, bool, str], set[str]] = defaultdict(set)
    for exemption in IndicatorExemption.objects.filter(
        indicator__campaign_id=campaign_id
    ).values_list("casf_item_id", "outside_sons_only", "source", "indicator__code"):
        item, outside_sons_only, source, code = exemption
        grouped[(item, outside_sons_only, source)].add(code)
    exemptions = tuple(
        Exemption(
            code=f"EXEMPT_{index}",
            label=source or f"exemption de l'item {item}",
            indicators=frozenset(codes),
            casf_items=frozenset({item}),
            outside_sons_only=outside_sons_only,
        )
        for index, ((item, outside_sons_only, source), codes) in enumerate(sorted(grouped.items()))
    )
    return targets, exemptions


def latest_validated_measurements(
    *, campaign_id: int, deadline: datetime.date, finess: Iterable[str] | QuerySet[Any]
) -> dict[str, dict[str, Decimal]]:
    """FINESS → indicator code → the latest **validated** value measured by the deadline, for
    the ESSMS ``finess`` (a list, or a query of FINESS numbers: one query either way)."""
    measurements: dict[str, dict[str, Decimal]] = defaultdict(dict)
    # Ordered by date: the latest validated value by the deadline wins.
    for number, code, value in (
        Measurement.objects.filter(
            structure__finess__in=finess,
            indicator__campaign_id=campaign_id,
            status=Measurement.Status.VALIDATED,
            measured_on__lte=deadline,
        )
        .order_by("measured_on", "id")
        .values_list("structure__finess", "indicator__code", "value")
    ):
        measurements[number][code] = value
    return dict(measurements)


def settlement_policy(*, follow_up: FollowUpParameters, campaign: Campaign) -> SettlementPolicy:
    """The campaign's settlement parameters as the rules' policy."""
    return SettlementPolicy(
        shortfall=follow_up.policy,
        grappe_threshold_percent=follow_up.grappe_threshold_percent,
        recover_departed=follow_up.recover_leavers,
        first_tranche_percent=campaign.first_tranche_percent,
    )


def settlement_request_build(
    *,
    total: int,
    lines: tuple[GrantLine, ...],
    members: Collection[str],
    targets: tuple[UsageTarget, ...],
    exemptions: tuple[Exemption, ...],
    measurements: Mapping[str, Mapping[str, Decimal]],
    paid: Payments,
    policy: SettlementPolicy,
) -> SettlementRequest:
    """The rules' input from data already read: the measurements of the grant's lines only,
    and as departed the funded ESSMS no longer in the grappe (``members``: its FINESS)."""
    funded = {line.finess for line in lines}
    return SettlementRequest(
        grant=GrantInput(total=total, lines=lines),
        paid=paid,
        targets=targets,
        exemptions=exemptions,
        measurements={f: dict(measurements[f]) for f in funded if f in measurements},
        departed=frozenset(funded - set(members)),
        policy=policy,
    )


def settlement_request_for(*, convention: Convention) -> SettlementRequest:
    """The rules' input for a countersigned convention: its lines in force (the latest validated
    amendment's, else the convention's: ``grant_effective_snapshot``), the targets and
    exemptions of its campaign, the **validated** measurements taken by the deadline (the latest
    per ESSMS and indicator), the ESSMS no longer in the grappe, the campaign's policy.

    An ESSMS an amendment took out keeps its former line, counted as departed (the total grows
    by it): the rules then apply the campaign's policy on its share of the first tranche, and the
    recovery ordered when the amendment was validated counts in ``Payments.recovered``."""
    decision = convention.decision
    campaign = decision.campaign
    follow_up = FollowUpParameters.objects.get(campaign=campaign)
    effective = grant_effective_snapshot(convention=convention)
    left = grant_lines_left_by_amendment(convention=convention)
    snapshot = {"lines": [*effective["lines"], *left]}
    finess_numbers = [line["finess"] for line in snapshot["lines"]]
    members = dict(
        GrappeMembership.objects.filter(
            grappe_id=decision.application.grappe_id, structure__finess__in=finess_numbers
        ).values_list("structure__finess", "solution__segur_referenced")
    )
    lines = settlement_lines(snapshot=snapshot, segur_referenced=members)
    targets, exemptions = settlement_targets(campaign_id=campaign.pk)
    return settlement_request_build(
        total=int(effective["total"]) + sum(int(line["amount"]) for line in left),
        lines=lines,
        members=set(members) - {line["finess"] for line in left},
        targets=targets,
        exemptions=exemptions,
        measurements=latest_validated_measurements(
            campaign_id=campaign.pk,
            deadline=follow_up.measurement_deadline,
            finess=[line.finess for line in lines],
        ),
        paid=_ordered(convention),
        policy=settlement_policy(follow_up=follow_up, campaign=campaign),
    )


def settlement_preview(*, convention: Convention) -> SettlementResult:
    """What the settlement would give today (read only)."""
    return compute_settlement(settlement_request_for(convention=convention))


def second_tranche_settle(*, convention: Convention, by: User) -> PaymentOrder | None:
    """At or after the measurement deadline, compute the settlement and issue its order: the
    second tranche, or a recovery (*titre de recette*); None when nothing is due either way."""
    application = convention.decision.application
    require_allowed(can_follow_up(by, application))
    with transaction.atomic():
        locked = Convention.objects.select_for_update().get(pk=convention.pk)
        blocker = settlement_blocker(convention=locked, today=timezone.localdate())
        if blocker:
            raise GrantError(blocker)
        result = compute_settlement(settlement_request_for(convention=locked))
        reasons = [reason.message for reason in result.reasons] + [
            reason.message for outcome in result.essms for reason in outcome.reasons
        ]
        grant_log_append(
            application=application,
            event=SETTLEMENT_EVENT,
            by=by,
            detail=f"Dû {result.due} €, versé {result.paid} € : seconde tranche "
            f"{result.second_tranche} €, reversement {result.recovery} €.",
        )
        if result.second_tranche:
            return payment_order_issue(
                convention=locked,
                kind=PaymentOrder.Kind.SECOND,
                amount=result.second_tranche,
                bank=bank_details_active(application),
                by=by,
                reasons=reasons,
            )
        if result.recovery:
            return payment_order_issue(
                convention=locked,
                kind=PaymentOrder.Kind.RECOVERY,
                amount=result.recovery,
                bank=bank_details_active(application),
                by=by,
                reasons=reasons,
            )
        return None
