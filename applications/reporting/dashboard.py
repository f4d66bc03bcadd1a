"""Dashboard of the programme: per call (one per region, plus the national call) the envelope,
the amounts requested, proposed and accepted, the envelope's consumption and the ESSMS by sector.

Scope: CNSA agents and administrators see every call of the campaign, ARS agents their region's.

"Requested" never recomputes a funding quote (too costly for a whole campaign). Per dossier it is
the sum of the amounts the instructeur's proposal *computed* (``ProposedAmount.computed``: the
quote after caps, frozen at the proposal) when there is a proposal; otherwise what the applicant
saved: the forfait of each ESSMS by project type times its eligible share (rounded down) plus the
support requests as typed (procurement, steering, hardware), before caps and eligibility checks.
Only submitted dossiers count (neither drafts nor withdrawn ones).

Charts are inline SVG built here (geometry only) and drawn by the template; the table beside
each chart carries the numbers, so nothing is conveyed by the drawing alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Case, F, OuterRef, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Floor

from essms_portal.accounts.models import ARS_ROLES, Role, User
from funding.money import group_thousands
from grappes.models import CasfCategory, GrappeMembership

from ..models import Application, Call, Campaign, HardwareRequest, ProposedAmount
from ..workflow import FUNDED, NOT_SUBMITTED, Status


@dataclass(frozen=True)
class CallFigures:
    """One row of the dashboard: a call (a region, or national) and its amounts in euros."""

    call: Call
    dossiers: int
    envelope: int
    requested: int
    proposed: int
    accepted: int

    @property
    def label(self) -> str:
        return self.call.region.name if self.call.region else "National (CNSA)"

    @property
    def consumption(self) -> Decimal | None:
        """Accepted amounts as a percentage of the envelope (None without an envelope)."""
        if not self.envelope:
            return None
        ratio = Decimal(self.accepted * 100) / Decimal(self.envelope)
        return ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Bar:
    """One bar of a horizontal bar chart, its geometry in SVG user units."""

    series: str
    value: int
    x: int
    y: int
    width: int
    height: int
    text: str


@dataclass(frozen=True)
class BarGroup:
    """The bars of one category (a call, a sector) and its label."""

    label: str
    label_y: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart: title and description for assistive technologies, groups."""

    slug: str
    title: str
    description: str
    series: tuple[str, ...]
    groups: tuple[BarGroup, ...]
    width: int
    height: int
    plot_x: int


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows."""

    campaign: Campaign | None
    rows: tuple[CallFigures, ...]
    sectors: tuple[CasfCategory, ...]
    sector_counts: dict[int, dict[str, int]] = field(default_factory=dict)
    sector_totals: dict[str, int] = field(default_factory=dict)

    @property
    def totals(self) -> CallFigures | None:
        """The sum of every row (None when there is none), as a pseudo-row without a call."""
        if not self.rows:
            return None
        return CallFigures(
            call=Call(name="Total"),
            dossiers=sum(r.dossiers for r in self.rows),
            envelope=sum(r.envelope for r in self.rows),
            requested=sum(r.requested for r in self.rows),
            proposed=sum(r.proposed for r in self.rows),
            accepted=sum(r.accepted for r in self.rows),
        )


def dashboard_calls(*, user: User, campaign: Campaign) -> QuerySet[Call]:
    """The campaign's calls the user may see: all for CNSA and administrators, the region's
    regional call for ARS agents, none otherwise."""
    calls = Call.objects.filter(campaign=campaign).select_related("region", "campaign")
    if user.role in ARS_ROLES:
        calls = calls.filter(scope=Call.Scope.REGIONAL, region_id=user.region_id)
    elif user.role not in (Role.CNSA_AGENT, Role.ADMINISTRATOR):
        return Call.objects.none()
    return calls.order_by("scope", "region__position")


def _forfaits_requested() -> Subquery:
    """Per dossier: Σ over the grappe's ESSMS of the campaign forfait times the eligible share."""
    forfait = Case(
        When(project_type="acquisition", then=OuterRef("call__campaign__acquisition_amount")),
        default=OuterRef("call__campaign__upgrade_amount"),
    )
    return Subquery(
        GrappeMembership.objects.filter(grappe_id=OuterRef("grappe_id"))
        .values("grappe_id")
        .annotate(total=Sum(Floor(forfait * F("eligible_share"))))
        .values("total")[:1]
    )


def _sum_subquery(model: type[ProposedAmount] | type[HardwareRequest], field_name: str) -> Subquery:
    return Subquery(
        model.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(total=Sum(field_name))
        .values("total")[:1]
    )


def _per_dossier(calls: QuerySet[Call]) -> Iterator[tuple[Any, ...]]:
    """Submitted dossiers of these calls: (call id, status, Σ computed or None, Σ proposed,
    saved request), streamed."""
    zero = Value(Decimal(0))
    saved = (
        Coalesce(_forfaits_requested(), zero)
        + F("requested_procurement")
        + F("requested_steering")
        + Coalesce(_sum_subquery(HardwareRequest, "amount"), zero)
    )
    return (
        Application.objects.filter(call__in=calls)
        .exclude(status__in=NOT_SUBMITTED)
        .annotate(
            computed_sum=_sum_subquery(ProposedAmount, "computed"),
            proposed_sum=Coalesce(_sum_subquery(ProposedAmount, "proposed"), zero),
            saved_request=saved,
        )
        .values_list("call_id", "status", "computed_sum", "proposed_sum", "saved_request")
        .iterator(chunk_size=2000)
    )


def _sector_counts(calls: QuerySet[Call]) -> dict[int, dict[str, int]]:
    """ESSMS of the submitted dossiers per call and CASF item: one query."""
    rows = (
        GrappeMembership.objects.filter(grappe__applications__call__in=calls)
        .exclude(grappe__applications__status__in=NOT_SUBMITTED)
        .exclude(structure__category__casf_item__isnull=True)
        .values_list("grappe__applications__call_id", "structure__category__casf_item_id")
        .order_by()
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for call_id, item in rows.iterator(chunk_size=2000):
        counts[call_id][item] += 1
    return {call_id: dict(items) for call_id, items in counts.items()}


def dashboard_build(*, user: User, campaign: Campaign | None) -> Dashboard:
    """The dashboard of one campaign in the user's scope."""
    if campaign is None:
        return Dashboard(campaign=None, rows=(), sectors=())
    calls = list(dashboard_calls(user=user, campaign=campaign))
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    dossiers = _per_dossier(Call.objects.filter(pk__in=[c.pk for c in calls]))
    for call_id, status, computed, proposed, saved in dossiers:
        figures = sums[call_id]
        figures["dossiers"] += 1
        figures["requested"] += int(computed if computed is not None else saved)
        if status == Status.PROPOSED:
            figures["proposed"] += int(proposed)
        elif status in FUNDED:
            figures["accepted"] += int(proposed)
    rows = tuple(
        CallFigures(
            call=call,
            dossiers=sums[call.pk]["dossiers"],
            envelope=int(call.envelope),
            requested=sums[call.pk]["requested"],
            proposed=sums[call.pk]["proposed"],
            accepted=sums[call.pk]["accepted"],
        )
        for call in calls
    )
    counts = _sector_counts(Call.objects.filter(pk__in=[c.pk for c in calls]))
    totals: dict[str, int] = defaultdict(int)
    for items in counts.values():
        for item, n in items.items():
            totals[item] += n
    sectors = tuple(CasfCategory.objects.filter(code__in=totals).order_by("number"))
    return Dashboard(
        campaign=campaign,
        rows=rows,
        sectors=sectors,
        sector_counts=counts,
        sector_totals=dict(totals),
    )


def _short(label: str, size: int = 24) -> str:
    """A chart label that fits left of the bars (the table beside it has the full label)."""
    return label if len(label) <= size else f"{label[: size - 1]}…"


def bar_chart(
    *,
    slug: str,
    title: str,
    description: str,
    series: tuple[str, ...],
    groups: list[tuple[str, tuple[int, ...]]],
    unit: str = "",
    width: int = 640,
    label_width: int = 170,
    text_room: int = 190,
) -> BarChart:
    """Lay out a horizontal bar chart: one group per category, one bar per series, bars scaled
    to the largest value, each bar labelled with its value (readable without colour);
    ``text_room`` is kept right of the longest bar for that label."""
    bar_height, gap, group_gap = 16, 3, 14
    plot_width = width - label_width - text_room
    largest = max((v for _label, values in groups for v in values), default=0) or 1
    laid_out: list[BarGroup] = []
    y = 8
    for label, values in groups:
        bars = []
        top = y
        for name, value in zip(series, values, strict=True):
            length = round(plot_width * value / largest)
            suffix = f" {unit}" if unit else ""
            bars.append(
                Bar(
                    series=name,
                    value=value,
                    x=label_width,
                    y=y,
                    width=length,
                    height=bar_height,
                    text=f"{group_thousands(value)}{suffix}",
                )
            )
            y += bar_height + gap
        block = y - gap - top
        laid_out.append(BarGroup(label=label, label_y=top + block // 2 + 4, bars=tuple(bars)))
        y += group_gap
    return BarChart(
        slug=slug,
        title=title,
        description=description,
        series=series,
        groups=tuple(laid_out),
        width=width,
        height=y,
        plot_x=label_width,
    )


def dashboard_charts(board: Dashboard) -> tuple[BarChart, BarChart]:
    """The two charts of the page: amounts per call, ESSMS per sector."""
    amounts = bar_chart(
        slug="montants",
        title="Enveloppe, montants accordés et proposés par appel",
        description=(
            "Barres horizontales, une série par montant (enveloppe, accordé, proposé) pour "
            "chaque appel ; les valeurs exactes sont dans le tableau voisin."
        ),
        series=("Enveloppe", "Accordé", "Proposé"),
        groups=[(r.label, (r.envelope, r.accepted, r.proposed)) for r in board.rows],
        unit="€",
    )
    sectors = bar_chart(
        slug="secteurs",
        title="ESSMS des dossiers déposés par secteur (item L312-1)",
        description=(
            "Une barre par item du CASF L312-1 ; le nombre exact d'ESSMS est dans le tableau "
            "voisin."
        ),
        series=("ESSMS",),
        groups=[
            (_short(f"{s.code} {s.label}"), (board.sector_totals.get(s.code, 0),))
            for s in board.sectors
        ],
    )
    return amounts, sectors
