"""Usage targets on the dashboard (issue #15): per region (call) and per sector, the share of
funded ESSMS meeting each target of the campaign, and the active DUI counted against the
campaign's national target (``FollowUpParameters.national_active_dui_target``).

- **Funded ESSMS**: the lines of an amount > 0 of the countersigned or closed conventions (as
  amended: the amounts in force), still in their grappe (an ESSMS that left is no longer funded:
  the settlement's ``departed``).
- **Meeting a target**: the settlement rules' own verdict (``funding.settlement.essms_outcome``):
  the latest validated measurement by the deadline reaches the threshold. A target counts only
  the ESSMS it applies to — an ESSMS of an item it does not name, or exempted (AHI outside SONS),
  is neither in its numerator nor in its denominator; "every target" uses the rules' status.
- **Active DUI**: the sum of the latest validated ``DUI_ACTIF`` measurements of those ESSMS.
- **Rows**: one per call of the user's scope (a region, or the national call), as on the
  dashboard (``applications.reporting.dashboard.dashboard_calls``: CNSA agents and
  administrators every call, ARS agents their region's); sectors are the CASF items of the
  funded lines, as the dashboard groups them.

Set-wise: a fixed number of queries whatever the number of grants (tested)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import OuterRef, Subquery

from applications.models import Campaign
from applications.reporting.dashboard import dashboard_calls
from essms_portal.accounts.models import User
from funding.money import decimal_fr, group_thousands
from funding.settlement import (
    DEPARTED,
    DUI_ACTIVE,
    MET,
    EssmsOutcome,
    Payments,
    SettlementError,
    SettlementPolicy,
    essms_outcome,
)
from grappes.models import CasfCategory, GrappeMembership

from .models import Amendment, Convention, FollowUpParameters
from .settlement import (
    latest_validated_measurements,
    settlement_lines,
    settlement_policy,
    settlement_request_build,
    settlement_targets,
)

#: Conventions whose lines are funded: signed by both parties, or settled.
FUNDED_CONVENTIONS = (Convention.Status.COUNTERSIGNED, Convention.Status.CLOSED)
#: A line without a CASF item (an ESSMS outside L312-1 in the referential).
NO_SECTOR = "Item non renseigné"


def percent_fr(part: int | Decimal, whole: int | Decimal | None) -> str:
    """``part`` out of ``whole`` as a French percentage to one decimal (« 66,7 % »); « — »
    when there is nothing to divide by."""
    if not whole:
        return "—"
    ratio = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{decimal_fr(ratio)}\u202f%"


def number_fr(value: int | Decimal | None) -> str:
    """A count or a measured sum the French way (« 12 345 », « 12 345,5 »); « — » for none."""
    if value is None:
        return "—"
    whole = int(value)
    rest = Decimal(value) - whole
    text = group_thousands(whole)
    return f"{text},{str(rest.normalize()).split('.')[1]}" if rest else text


@dataclass(frozen=True)
class IndicatorColumn:
    """One usage target of the campaign, a column of the tables."""

    code: str
    label: str
    threshold: Decimal
    unit: str


@dataclass(frozen=True)
class IndicatorShare:
    """One target in one row: the funded ESSMS it applies to, and those meeting it."""

    concerned: int
    met: int

    @property
    def percent(self) -> str:
        return percent_fr(self.met, self.concerned)


@dataclass(frozen=True)
class TargetsRow:
    """A region (call) or a sector: its funded ESSMS, those meeting every target that applies
    to them, the share meeting each target, the sum of their active DUI."""

    label: str
    funded: int
    all_met: int
    shares: tuple[IndicatorShare, ...]
    active_dui: Decimal | None

    @property
    def all_met_percent(self) -> str:
        return percent_fr(self.all_met, self.funded)

    @property
    def active_dui_fr(self) -> str:
        return number_fr(self.active_dui)


@dataclass(frozen=True)
class UsageTargetsOverview:
    """Everything the targets page shows for one campaign in the user's scope."""

    campaign: Campaign | None
    indicators: tuple[IndicatorColumn, ...] = ()
    regions: tuple[TargetsRow, ...] = ()
    sectors: tuple[TargetsRow, ...] = ()
    total: TargetsRow | None = None
    national_active_dui_target: int | None = None
    measurement_deadline: datetime.date | None = None
    # Grants whose data the settlement rules refuse (inconsistent snapshot): left out, counted.
    unreadable: int = 0
    # The DUI_ACTIF indicator's unit: a sum means a number of DUI only for a count, not a rate.
    active_dui_unit: str = ""

    @property
    def active_dui_percent(self) -> str:
        """The active DUI in scope against the national target."""
        if self.total is None or self.total.active_dui is None:
            return "—"
        return percent_fr(self.total.active_dui, self.national_active_dui_target)

    @property
    def national_target_fr(self) -> str:
        return number_fr(self.national_active_dui_target)


@dataclass
class _Tally:
    """Running counts of one row (mutable while the outcomes are read)."""

    indicators: int
    funded: int = 0
    all_met: int = 0
    concerned: list[int] = field(default_factory=list)
    met: list[int] = field(default_factory=list)
    active_dui: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        self.concerned = [0] * self.indicators
        self.met = [0] * self.indicators

    def add(self, outcome: EssmsOutcome, active_dui: Decimal | None) -> None:
        self.funded += 1
        self.all_met += outcome.status == MET
        for index, indicator in enumerate(outcome.indicators):
            if indicator.applies:
                self.concerned[index] += 1
                self.met[index] += indicator.met
        self.active_dui += active_dui or 0

    def row(self, label: str, *, counts_dui: bool) -> TargetsRow:
        return TargetsRow(
            label=label,
            funded=self.funded,
            all_met=self.all_met,
            shares=tuple(
                IndicatorShare(concerned=c, met=m)
                for c, m in zip(self.concerned, self.met, strict=True)
            ),
            active_dui=self.active_dui if counts_dui else None,
        )


def funded_snapshots(*, calls: list[int]) -> list[tuple[dict[str, Any], int, int]]:
    """(amounts in force, call id, grappe id) of every countersigned or closed convention of
    these calls, in one query. The amounts in force are those of
    ``selectors.grant_effective_snapshot`` (its latest validated amendment, else the
    convention), asked for every convention at once: a correlated subquery with the same
    order, tested to agree with it."""
    latest_amendment = (
        Amendment.objects.filter(convention=OuterRef("pk"), status=Amendment.Status.VALIDATED)
        .order_by("-validated_at", "-id")
        .values("snapshot")[:1]
    )
    rows = (
        Convention.objects.filter(
            decision__application__call__in=calls, status__in=FUNDED_CONVENTIONS
        )
        .annotate(amended=Subquery(latest_amendment))
        .order_by("pk")
        .values_list(
            "snapshot",
            "amended",
            "decision__application__call_id",
            "decision__application__grappe_id",
        )
    )
    return [
        (amended if amended is not None else snapshot, call_id, grappe_id)
        for snapshot, amended, call_id, grappe_id in rows
    ]


def usage_targets_overview(*, user: User, campaign: Campaign | None) -> UsageTargetsOverview:
    """The usage targets of ``campaign`` in the user's scope (nothing outside the back office)."""
    if campaign is None:
        return UsageTargetsOverview(campaign=None)
    calls = list(dashboard_calls(user=user, campaign=campaign))
    follow_up = FollowUpParameters.objects.filter(campaign=campaign).first()
    # Without follow-up parameters there is no deadline: every validated measurement counts.
    deadline = follow_up.measurement_deadline if follow_up else datetime.date.max
    conventions = funded_snapshots(calls=[call.pk for call in calls])
    targets, exemptions = settlement_targets(campaign_id=campaign.pk)
    grappe_ids = sorted({grappe_id for _snapshot, _call, grappe_id in conventions})
    members: dict[int, dict[str, bool | None]] = defaultdict(dict)
    for grappe_id, finess, segur in GrappeMembership.objects.filter(
        grappe_id__in=grappe_ids
    ).values_list("grappe_id", "structure__finess", "solution__segur_referenced"):
        members[grappe_id][finess] = segur
    measurements = latest_validated_measurements(
        campaign_id=campaign.pk,
        deadline=deadline,
        finess=GrappeMembership.objects.filter(grappe_id__in=grappe_ids).values(
            "structure__finess"
        ),
    )
    # Only the outcomes of the lines are read: what was paid and the policy do not change them.
    policy = (
        settlement_policy(follow_up=follow_up, campaign=campaign)
        if follow_up
        else SettlementPolicy()
    )
    counts_dui = any(target.code == DUI_ACTIVE for target in targets)
    size = len(targets)
    per_call: dict[int, _Tally] = defaultdict(lambda: _Tally(size))
    per_sector: dict[str, _Tally] = defaultdict(lambda: _Tally(size))
    total = _Tally(size)
    unreadable = 0
    for snapshot, call_id, grappe_id in conventions:
        grappe_members = members.get(grappe_id, {})
        try:
            lines = settlement_lines(snapshot=snapshot, segur_referenced=grappe_members)
            request = settlement_request_build(
                total=int(snapshot["total"]),
                lines=lines,
                members=set(grappe_members),
                targets=targets,
                exemptions=exemptions,
                measurements=measurements,
                paid=Payments(first_tranche=0),
                policy=policy,
            )
        except (SettlementError, KeyError, TypeError, ValueError):
            unreadable += 1
            continue
        for line in lines:
            outcome = essms_outcome(line, request)
            if outcome.status == DEPARTED:
                continue
            dui = request.measurements.get(line.finess, {}).get(DUI_ACTIVE)
            for tally in (per_call[call_id], per_sector[line.casf_item or ""], total):
                tally.add(outcome, dui)
    sectors = {
        category.code: category
        for category in CasfCategory.objects.filter(code__in=[c for c in per_sector if c])
    }
    sector_keys = sorted(
        per_sector, key=lambda code: (sectors[code].number if code in sectors else 10**6, code)
    )
    return UsageTargetsOverview(
        campaign=campaign,
        indicators=tuple(
            IndicatorColumn(code=t.code, label=t.label, threshold=t.threshold, unit=t.unit)
            for t in targets
        ),
        regions=tuple(
            per_call[call.pk].row(
                call.region.name if call.region else "National (CNSA)", counts_dui=counts_dui
            )
            for call in calls
        ),
        sectors=tuple(
            per_sector[code].row(
                str(sectors[code]) if code in sectors else (code or NO_SECTOR),
                counts_dui=counts_dui,
            )
            for code in sector_keys
        ),
        total=total.row("Total", counts_dui=counts_dui),
        national_active_dui_target=follow_up.national_active_dui_target if follow_up else None,
        measurement_deadline=follow_up.measurement_deadline if follow_up else None,
        unreadable=unreadable,
        active_dui_unit=next((t.unit for t in targets if t.code == DUI_ACTIVE), ""),
    )
