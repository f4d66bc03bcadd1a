"""Dashboard of the programme: per call (one per region, plus the national call) the envelope,
the amounts requested, proposed and accepted, the envelope's consumption and the ESSMS by sector;
its first view is the atlas by département (``atlas.py``).

Scope: CNSA agents and administrators see every call of the campaign, ARS agents their region's.

"Requested" is the exact funding quote of every submitted dossier (``QuoteResult.total``: after
caps and eligibility checks, under the dossier's campaign parameters), computed for the whole
campaign at once by ``funding.services.quotes_for`` in a fixed number of queries. Only submitted
dossiers count (neither drafts nor withdrawn ones).

The quotes are cached (Django's cache, shared by the processes): one entry per campaign mapping
each computed dossier to its total, keyed by ``essms_portal.quotes_version``, which every change
of a submitted dossier renews (transitions: ``applications.apps``; requests:
``application_update``; ESSMS: the grappes services). A dossier missing from the entry (a
narrower scope computed it, or it arrived meanwhile) is computed and added. The entry lives
``DASHBOARD_QUOTES_TTL`` seconds from its first computation, which bounds how long an edit made
outside the services (campaign parameters in the admin) takes to show.

Charts are inline SVG built here (geometry only) and drawn by the template; the table beside
each chart carries the numbers, so nothing is conveyed by the drawing alone."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from essms_portal.accounts.models import ARS_ROLES, Role, User
from essms_portal.quotes_version import quotes_version
from funding.money import group_thousands
from funding.services import quotes_for
from grappes.models import CasfCategory, GrappeMembership

from ..models import Application, Call, Campaign, ProposedAmount
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
    # When the oldest of the "requested" amounts shown was computed (None without a dossier).
    requested_at: datetime | None = None

    @property
    def ttl_minutes(self) -> int:
        """How long, at most, the cached "requested" amounts live (the page says it)."""
        return max(1, round(settings.DASHBOARD_QUOTES_TTL / 60))

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


def dashboard_campaign(*, year: str | None) -> Campaign | None:
    """The campaign of that year (404 when unknown), else the latest; None without any."""
    campaigns = Campaign.objects.order_by("-year")
    if year and year.isdigit():
        return get_object_or_404(campaigns, year=year)
    return campaigns.first()


def dashboard_calls(*, user: User, campaign: Campaign) -> QuerySet[Call]:
    """The campaign's calls the user may see: all for CNSA and administrators, the region's
    regional call for ARS agents, none otherwise."""
    calls = Call.objects.filter(campaign=campaign).select_related("region", "campaign")
    if user.role in ARS_ROLES:
        calls = calls.filter(scope=Call.Scope.REGIONAL, region_id=user.region_id)
    elif user.role not in (Role.CNSA_AGENT, Role.ADMINISTRATOR):
        return Call.objects.none()
    return calls.order_by("scope", "region__position")


def _sum_subquery(model: type[ProposedAmount], field_name: str) -> Subquery:
    return Subquery(
        model.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(total=Sum(field_name))
        .values("total")[:1]
    )


def _requested(
    pks: list[int], *, campaign: Campaign, version: str
) -> tuple[dict[int, int], datetime | None]:
    """The quote total of each dossier, from the campaign's cache entry under ``version`` or
    computed (then added to it), and when the oldest of them was computed."""
    if not pks:
        return {}, None
    key = f"dashboard:quotes:{campaign.pk}:{version}"
    ttl = timedelta(seconds=settings.DASHBOARD_QUOTES_TTL)
    now = timezone.now()
    entry = cache.get(key)
    # The entry's age is checked here too: adding dossiers re-stores it with what is left of
    # its life, never a new one (the TTL is the promise the page makes).
    if entry is None or now - entry["at"] >= ttl:
        entry = {"at": now, "totals": {}}
    totals: dict[int, int] = entry["totals"]
    missing = [pk for pk in pks if pk not in totals]
    if missing:
        # Whole rows only for the dossiers to compute: a warm view reads four columns.
        applications = Application.objects.filter(pk__in=missing).select_related("call__campaign")
        quotes = quotes_for(applications=applications)
        totals.update((pk, quote.total) for pk, quote in quotes.items())
        left = ttl - (now - entry["at"])
        cache.set(key, entry, timeout=max(1, int(left.total_seconds())))
    return totals, entry["at"]


def _per_dossier(
    calls: QuerySet[Call], *, campaign: Campaign, version: str
) -> tuple[list[tuple[int, str, int, int]], datetime | None]:
    """Submitted dossiers of these calls: (call id, status, quote total, Σ proposed), and when
    the oldest quote total was computed."""
    dossiers = list(
        Application.objects.filter(call__in=calls)
        .exclude(status__in=NOT_SUBMITTED)
        .annotate(
            proposed_sum=Coalesce(_sum_subquery(ProposedAmount, "proposed"), Value(Decimal(0)))
        )
        .order_by()
        .values_list("pk", "call_id", "status", "proposed_sum")
    )
    totals, computed_at = _requested(
        [pk for pk, *_rest in dossiers], campaign=campaign, version=version
    )
    rows = [
        (call_id, status, totals[pk], int(proposed)) for pk, call_id, status, proposed in dossiers
    ]
    return rows, computed_at


def _sector_counts(calls: QuerySet[Call]) -> dict[int, dict[str, int]]:
    """ESSMS of the submitted dossiers per call and CASF item: one GROUP BY query."""
    # Both conditions in one filter(): on the same dossier (an exclude() would drop a grappe
    # whose earlier dossier was withdrawn).
    submitted = [status for status in Status.values if status not in NOT_SUBMITTED]
    rows = (
        GrappeMembership.objects.filter(
            grappe__applications__call__in=calls, grappe__applications__status__in=submitted
        )
        .exclude(structure__category__casf_item__isnull=True)
        .values_list("grappe__applications__call_id", "structure__category__casf_item_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for call_id, item, n in rows:
        counts[call_id][item] = n
    return dict(counts)


def dashboard_build(*, user: User, campaign: Campaign | None) -> Dashboard:
    """The dashboard of one campaign in the user's scope."""
    if campaign is None:
        return Dashboard(campaign=None, rows=(), sectors=())
    # Before the dossiers are read: see ``quotes_version``.
    version = quotes_version()
    calls = list(dashboard_calls(user=user, campaign=campaign))
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    dossiers, requested_at = _per_dossier(
        Call.objects.filter(pk__in=[c.pk for c in calls]), campaign=campaign, version=version
    )
    for call_id, status, requested, proposed in dossiers:
        figures = sums[call_id]
        figures["dossiers"] += 1
        figures["requested"] += requested
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
    # The ESSMS of submitted dossiers change with the same events as their quotes (a status,
    # a grappe's ESSMS): cached under the same version, per scope (the calls shown).
    pks = sorted(c.pk for c in calls)
    key = f"dashboard:sectors:{campaign.pk}:{version}:{','.join(map(str, pks))}"
    counts = cache.get(key)
    if counts is None:
        counts = _sector_counts(Call.objects.filter(pk__in=pks))
        cache.set(key, counts, timeout=settings.DASHBOARD_QUOTES_TTL)
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
        requested_at=requested_at,
    )


# Average glyph widths in SVG units of the chart labels (13 units) and values (12 units), on
# the wide side, and the least room the bars keep.
LABEL_GLYPH = 8.0
VALUE_GLYPH = 7.4
MIN_PLOT_WIDTH = 240


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
    label_width: int | None = None,
    text_room: int | None = None,
) -> BarChart:
    """Lay out a horizontal bar chart: one group per category, one bar per series, bars scaled
    to the largest value, each bar labelled with its value (readable without colour);
    ``text_room`` is kept right of the longest bar for that label.

    Without ``label_width`` / ``text_room``, both are measured from the longest texts, with a
    generous average glyph width (Marianne is wider than the browsers' default font): a label
    such as « Bourgogne-Franche-Comté » is never clipped at the left edge, nor a value at the
    right; the drawing widens if needed and the SVG scales down with its column."""
    bar_height, gap, group_gap = 16, 3, 14
    suffix = f" {unit}" if unit else ""
    if label_width is None:
        longest = max((len(label) for label, _values in groups), default=0)
        label_width = math.ceil(longest * LABEL_GLYPH) + 12
    if text_room is None:
        prefix = max((len(name) for name in series), default=0) + 3 if len(series) > 1 else 0
        digits = max(
            (len(group_thousands(v)) for _label, values in groups for v in values), default=1
        )
        text_room = math.ceil((prefix + digits + len(suffix)) * VALUE_GLYPH) + 10
    width = max(width, label_width + text_room + MIN_PLOT_WIDTH)
    plot_width = width - label_width - text_room
    largest = max((v for _label, values in groups for v in values), default=0) or 1
    laid_out: list[BarGroup] = []
    y = 8
    for label, values in groups:
        bars = []
        top = y
        for name, value in zip(series, values, strict=True):
            length = round(plot_width * value / largest)
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
