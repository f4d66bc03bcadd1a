"""Atlas of the programme by département: the dashboard's first view.

Per département, for the selected campaign in the user's scope (every call for CNSA agents and
administrators, the region's call for ARS agents), optionally one call and one sector (CASF
item):

- **ESSMS financés**: distinct ESSMS with a granted forfait (a ``structure:<FINESS>`` proposal
  line above 0) in an accepted or notified dossier, by the ESSMS's département;
- **Montant accordé**: the proposed amounts of those dossiers, each line where it lands: an
  ESSMS forfait in the ESSMS's département, hardware in its gestionnaire's, procurement and
  steering in the porteur's. With a sector filter, only the forfaits of that sector's ESSMS
  (supports belong to no sector);
- **ESSMS éligibles**: open ESSMS of an eligible category (``Structure.eligible``), of the sector
  when one is chosen; **part atteinte** = financés / éligibles.

Figures come from four GROUP BY queries whatever the number of dossiers (``atlas_figures``).
The map is SVG drawn server-side from vendored outlines (``data/departements.geojson``, IGN
Admin Express through gregoiredavid/france-geojson, Licence Ouverte; see ``data/LICENCE.md``
and ``scripts/atlas_geometry.py``): metropolitan France in an equirectangular projection
corrected by cos(latitude), the five overseas départements as insets, each at its own scale.
Geometry is pure (no Django) and computed once per process. The table beside the map carries
the same figures; the CSV export is built from the same rows; the PNG is the same drawing
rasterised with Pillow (no browser).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, CharField, Count, F, OuterRef, QuerySet, Subquery, Sum, When
from django.db.models.functions import Substr
from django.http import Http404
from PIL import Image, ImageDraw, ImageFont

from essms_portal.accounts.models import ARS_ROLES, User
from essms_portal.quotes_version import quotes_version
from funding.money import group_thousands
from grappes.models import CasfCategory, Departement, Organisation, Structure

from ..models import Application, Call, Campaign, ProposedAmount
from ..workflow import FUNDED
from .dashboard import dashboard_calls

GEOMETRY = Path(__file__).resolve().parent / "data" / "departements.geojson"
OVERSEAS = ("971", "972", "973", "974", "976")

# Layout of the drawing, in SVG user units: insets in a column on the left, the metropolitan
# map on the right; everything fits the viewBox, so nothing is clipped at any width.
WIDTH = 640
INSET_WIDTH = 100
INSET_GAP = 8
MARGIN = 6
LAT0 = 46.5  # latitude of the cos() correction for metropolitan France

# Classes of "part atteinte" (percent, upper bounds excluded), for the colours and the legend.
SHARE_CLASSES: tuple[tuple[Decimal, str], ...] = (
    (Decimal(10), "moins de 10 %"),
    (Decimal(20), "de 10 à moins de 20 %"),
    (Decimal(30), "de 20 à moins de 30 %"),
    (Decimal(40), "de 30 à moins de 40 %"),
)
TOP_CLASS_LABEL = "40 % ou plus"
NO_DATA_LABEL = "aucun ESSMS éligible"
# The same palette as static/css/atlas.css (DSFR blue-france tones), for the PNG.
PNG_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PNG_COLOURS = ("#e5e5e5", "#ececfe", "#cacafb", "#8585f6", "#4747d8", "#000091")


# --------------------------------------------------------------------------------------------
# Geometry (pure)
# --------------------------------------------------------------------------------------------

Point = tuple[float, float]
Ring = list[Point]


@dataclass(frozen=True)
class Shape:
    """One département's outline, projected: SVG path data and the polygons for the PNG."""

    code: str
    name: str
    path: str
    polygons: tuple[tuple[Point, ...], ...]


@dataclass(frozen=True)
class Inset:
    """The frame of an overseas département's inset and its caption."""

    code: str
    name: str
    x: float
    y: float
    width: float
    height: float

    @property
    def label_x(self) -> float:
        return round(self.x + 4, 1)

    @property
    def label_y(self) -> float:
        """The caption's baseline, inside the frame's bottom strip."""
        return round(self.y + self.height - 5, 1)


@dataclass(frozen=True)
class MapGeometry:
    width: int
    height: int
    shapes: tuple[Shape, ...]
    insets: tuple[Inset, ...]


def _rings(geometry: dict[str, Any]) -> list[Ring]:
    """Outer rings of a Polygon or MultiPolygon (inner rings are invisible at this scale)."""
    polygons = (
        [geometry["coordinates"]]
        if geometry["type"] == "Polygon"
        else list(geometry["coordinates"])
    )
    return [[(float(x), float(y)) for x, y in polygon[0]] for polygon in polygons]


def equirectangular(rings: Sequence[Ring], lat0: float) -> list[Ring]:
    """Longitude scaled by cos(lat0), latitude upwards: y grows southwards as in SVG."""
    factor = math.cos(math.radians(lat0))
    return [[(lon * factor, -lat) for lon, lat in ring] for ring in rings]


def fit(
    shapes: dict[str, list[Ring]], *, x: float, y: float, width: float, height: float
) -> dict[str, list[Ring]]:
    """Scale and translate projected rings into a box, keeping the aspect ratio, centred."""
    points = [p for rings in shapes.values() for ring in rings for p in ring]
    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    scale = min(width / (max_x - min_x), height / (max_y - min_y))
    off_x = x + (width - (max_x - min_x) * scale) / 2
    off_y = y + (height - (max_y - min_y) * scale) / 2
    return {
        code: [
            [(off_x + (px - min_x) * scale, off_y + (py - min_y) * scale) for px, py in ring]
            for ring in rings
        ]
        for code, rings in shapes.items()
    }


def path_data(rings: Sequence[Ring]) -> tuple[str, tuple[tuple[Point, ...], ...]]:
    """SVG path data (one decimal, repeated points dropped) and the rounded polygons."""
    parts: list[str] = []
    polygons: list[tuple[Point, ...]] = []
    for ring in rings:
        rounded: list[Point] = []
        for px, py in ring:
            point = (round(px, 1), round(py, 1))
            if not rounded or point != rounded[-1]:
                rounded.append(point)
        if len(rounded) < 3:
            continue
        coordinates = " ".join(f"{px:g} {py:g}" for px, py in rounded)
        parts.append(f"M{coordinates}Z")
        polygons.append(tuple(rounded))
    return "".join(parts), tuple(polygons)


@lru_cache(maxsize=1)
def map_geometry() -> MapGeometry:
    """The projected map of the vendored outlines (computed once per process)."""
    features = json.loads(GEOMETRY.read_text(encoding="utf-8"))["features"]
    names = {f["properties"]["code"]: f["properties"]["nom"] for f in features}
    rings = {f["properties"]["code"]: _rings(f["geometry"]) for f in features}
    metro = {c: equirectangular(r, LAT0) for c, r in rings.items() if c not in OVERSEAS}
    map_x = INSET_WIDTH + 2 * MARGIN
    map_width = WIDTH - map_x - MARGIN
    # The height follows from the metropolitan map's aspect ratio.
    points = [p for rs in metro.values() for ring in rs for p in ring]
    aspect = (max(p[1] for p in points) - min(p[1] for p in points)) / (
        max(p[0] for p in points) - min(p[0] for p in points)
    )
    height = round(map_width * aspect) + 2 * MARGIN
    placed = fit(metro, x=map_x, y=MARGIN, width=map_width, height=height - 2 * MARGIN)
    overseas = [code for code in OVERSEAS if code in rings]
    box = (height - 2 * MARGIN - INSET_GAP * (len(overseas) - 1)) / max(len(overseas), 1)
    insets = []
    for index, code in enumerate(overseas):
        top = MARGIN + index * (box + INSET_GAP)
        lat = sum(p[1] for ring in rings[code] for p in ring) / sum(len(r) for r in rings[code])
        # 14 units at the bottom of each frame for its caption.
        placed |= fit(
            {code: equirectangular(rings[code], lat)},
            x=MARGIN + 4,
            y=top + 4,
            width=INSET_WIDTH - 8,
            height=box - 22,
        )
        insets.append(
            Inset(
                code=code,
                name=names[code],
                x=MARGIN,
                y=round(top, 1),
                width=INSET_WIDTH,
                height=round(box, 1),
            )
        )
    shapes = tuple(Shape(code, names[code], *path_data(placed[code])) for code in sorted(placed))
    return MapGeometry(width=WIDTH, height=height, shapes=shapes, insets=tuple(insets))


def share_class(share: Decimal | None) -> int:
    """0: no eligible ESSMS; 1 to 4: the classes of SHARE_CLASSES; 5: 40 % or more."""
    if share is None:
        return 0
    for index, (bound, _label) in enumerate(SHARE_CLASSES, start=1):
        if share < bound:
            return index
    return len(SHARE_CLASSES) + 1


def legend() -> tuple[tuple[int, str], ...]:
    """(class, label) of every colour of the map."""
    return (
        (0, NO_DATA_LABEL),
        *((index, label) for index, (_b, label) in enumerate(SHARE_CLASSES, start=1)),
        (len(SHARE_CLASSES) + 1, TOP_CLASS_LABEL),
    )


# --------------------------------------------------------------------------------------------
# Figures (selector)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartementFigures:
    """One row of the atlas: a département and its figures."""

    code: str
    name: str
    funded_essms: int
    amount: int
    eligible_essms: int

    @property
    def share(self) -> Decimal | None:
        """Funded ESSMS as a percentage of the eligible ones (None without eligible ESSMS)."""
        if not self.eligible_essms:
            return None
        ratio = Decimal(self.funded_essms * 100) / Decimal(self.eligible_essms)
        return ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def share_class(self) -> int:
        return share_class(self.share)


@dataclass(frozen=True)
class Atlas:
    """The atlas of one campaign in a user's scope, with its filters."""

    campaign: Campaign | None
    calls: tuple[Call, ...]
    sectors: tuple[CasfCategory, ...]
    call: Call | None
    sector: CasfCategory | None
    rows: tuple[DepartementFigures, ...]
    # Figures landing outside the rows: a département outside the ARS region, or none known.
    elsewhere: DepartementFigures | None

    @property
    def totals(self) -> DepartementFigures:
        rows = [*self.rows, *([self.elsewhere] if self.elsewhere else [])]
        return DepartementFigures(
            code="",
            name="Total",
            funded_essms=sum(r.funded_essms for r in rows),
            amount=sum(r.amount for r in rows),
            eligible_essms=sum(r.eligible_essms for r in rows),
        )

    @property
    def querystring(self) -> str:
        """The filters as a query string (for the export links)."""
        parts = [f"campagne={self.campaign.year}"] if self.campaign else []
        if self.call:
            parts.append(f"appel={self.call.pk}")
        if self.sector:
            parts.append(f"secteur={self.sector.number}")
        return "&".join(parts)


def atlas_filters(*, calls: Sequence[Call], params: Any) -> tuple[Call | None, CasfCategory | None]:
    """The call (``appel=<id>``, one of ``calls``) and sector (``secteur=<item number>``)
    asked for; 404 for one that does not exist or is out of scope, none when empty."""
    call = sector = None
    call_id, number = params.get("appel", ""), params.get("secteur", "")
    if call_id:
        call = next((c for c in calls if str(c.pk) == call_id), None)
        if call is None:
            raise Http404("Appel inconnu.")
    if number:
        sector = CasfCategory.objects.filter(number=number).first() if number.isdigit() else None
        if sector is None:
            raise Http404("Secteur inconnu.")
    return call, sector


def atlas_for(
    *, user: User, campaign: Campaign | None, params: Any, calls: Sequence[Call] | None = None
) -> Atlas:
    """The atlas of a campaign in the user's scope, filtered by the request's parameters;
    ``calls`` are the user's calls of the campaign when the caller already has them."""
    if calls is None:
        calls = list(dashboard_calls(user=user, campaign=campaign)) if campaign else []
    call, sector = atlas_filters(calls=calls, params=params)
    return atlas_figures(user=user, campaign=campaign, call=call, sector=sector, calls=calls)


def _by_departement(queryset: QuerySet[Any], value: Any) -> dict[str | None, int]:
    return {
        code: int(total or 0)
        for code, total in queryset.values_list("dep").annotate(total=value).order_by()
    }


def atlas_figures(
    *,
    user: User,
    campaign: Campaign | None,
    call: Call | None = None,
    sector: CasfCategory | None = None,
    calls: Sequence[Call] | None = None,
) -> Atlas:
    """The atlas's figures per département: three GROUP BY queries cached under the quotes'
    version (``_departement_aggregates``), the lists read each time.

    ``calls`` are the user's calls of the campaign when the caller already has them."""
    # Before the data is read (see ``quotes_version``): the aggregates are cached under it.
    version = quotes_version()
    if calls is None:
        calls = list(dashboard_calls(user=user, campaign=campaign)) if campaign else []
    sectors = tuple(CasfCategory.objects.order_by("number"))
    selected = [call] if call else list(calls)
    key = ":".join(
        (
            "atlas",
            version,
            str(campaign.pk if campaign else ""),
            sector.code if sector else "",
            ",".join(str(c.pk) for c in sorted(selected, key=lambda c: c.pk)),
        )
    )
    cached = cache.get(key)
    if cached is None:
        cached = _departement_aggregates(selected=selected, sector=sector)
        cache.set(key, cached, timeout=settings.DASHBOARD_QUOTES_TTL)
    eligible, funded_counts, amounts = cached

    scope: set[str] | None = None
    if user.role in ARS_ROLES:
        scope = set(
            Departement.objects.filter(region_id=user.region_id).values_list("code", flat=True)
        )
    rows = tuple(
        DepartementFigures(
            code=code,
            name=name,
            funded_essms=funded_counts.get(code, 0),
            amount=amounts.get(code, 0),
            eligible_essms=eligible.get(code, 0),
        )
        for code, name in Departement.objects.values_list("code", "name").order_by("code")
        if scope is None or code in scope
    )
    shown = {r.code for r in rows}
    rest = DepartementFigures(
        code="",
        name="Autres départements ou département inconnu",
        funded_essms=sum(n for c, n in funded_counts.items() if c not in shown),
        amount=sum(n for c, n in amounts.items() if c not in shown),
        eligible_essms=0,
    )
    return Atlas(
        campaign=campaign,
        calls=tuple(calls),
        sectors=sectors,
        call=call,
        sector=sector,
        rows=rows,
        elsewhere=rest if rest.funded_essms or rest.amount else None,
    )


def _departement_aggregates(
    *, selected: Sequence[Call], sector: CasfCategory | None
) -> tuple[dict[str | None, int], dict[str | None, int], dict[str | None, int]]:
    """Eligible ESSMS, funded ESSMS and funded amounts per département of the ``selected``
    calls' funded dossiers: three GROUP BY queries, most of the dashboard's database time on
    the national dataset (issue #13), hence cached by ``atlas_figures``. They change with a
    dossier's status (a transition) or the FINESS extract (an import): both bump the version."""
    funded = Application.objects.filter(call__in=selected, status__in=FUNDED)
    lines = ProposedAmount.objects.filter(application__in=funded)
    structure_lines = lines.filter(line__startswith="structure:", proposed__gt=0)
    structures = Structure.objects.all()
    if sector:
        structures = structures.filter(category__casf_item=sector)
    funded_finess = structure_lines.annotate(finess=Substr("line", len("structure:") + 1))

    eligible = _by_departement(
        structures.filter(eligible=True, closed=False).annotate(dep=F("departement_id")),
        Count("id"),
    )
    funded_counts = _by_departement(
        structures.filter(finess__in=funded_finess.values("finess")).annotate(
            dep=F("departement_id")
        ),
        Count("id"),
    )
    structure_dep = Subquery(
        Structure.objects.filter(finess=Substr(OuterRef("line"), len("structure:") + 1)).values(
            "departement_id"
        )[:1]
    )
    amount_lines: QuerySet[Any]
    if sector:
        # Supports belong to no sector: only the forfaits of the sector's ESSMS.
        amount_lines = (
            lines.filter(line__startswith="structure:")
            .annotate(finess=Substr("line", len("structure:") + 1))
            .filter(finess__in=structures.values("finess"))
            .annotate(dep=structure_dep)
        )
    else:
        hardware_dep = Subquery(
            Organisation.objects.filter(
                finess=Substr(OuterRef("line"), len("hardware:") + 1)
            ).values("departement_id")[:1]
        )
        amount_lines = lines.annotate(
            dep=Case(
                When(line__startswith="structure:", then=structure_dep),
                When(line__startswith="hardware:", then=hardware_dep),
                default=F("application__grappe__porteur__departement_id"),
                output_field=CharField(),
            )
        )
    amounts = _by_departement(amount_lines, Sum("proposed"))
    return eligible, funded_counts, amounts


# --------------------------------------------------------------------------------------------
# What the template, the CSV and the PNG draw
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapShape:
    """A shape of the map with its figures: the <title> and the colour class."""

    shape: Shape
    figures: DepartementFigures | None

    @property
    def share_class(self) -> str:
        return "out" if self.figures is None else str(self.figures.share_class)

    @property
    def title(self) -> str:
        name = f"{self.shape.name} ({self.shape.code})"
        if self.figures is None:
            return f"{name} : hors de votre périmètre"
        f = self.figures
        share = "—" if f.share is None else f"{str(f.share).replace('.', ',')} %"
        return (
            f"{name} : {group_thousands(f.funded_essms)} ESSMS financés, "
            f"{group_thousands(f.amount)} € accordés, "
            f"{group_thousands(f.eligible_essms)} ESSMS éligibles, part atteinte {share}"
        )


def atlas_shapes(atlas: Atlas) -> list[MapShape]:
    """Every shape of the map, with its row's figures (None outside the user's scope)."""
    figures = {row.code: row for row in atlas.rows}
    return [MapShape(shape, figures.get(shape.code)) for shape in map_geometry().shapes]


CSV_HEADER = (
    "Code",
    "Département",
    "ESSMS financés",
    "Montant accordé (€)",
    "ESSMS éligibles",
    "Part atteinte (%)",
)


def atlas_csv_rows(atlas: Atlas) -> Iterator[tuple[Any, ...]]:
    """The table's rows, header first, then the rows, the rest and the total."""
    yield CSV_HEADER
    rows = [*atlas.rows, *([atlas.elsewhere] if atlas.elsewhere else []), atlas.totals]
    for row in rows:
        yield (
            row.code,
            row.name,
            row.funded_essms,
            row.amount,
            row.eligible_essms,
            "" if row.share is None else row.share,
        )


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (installed with WeasyPrint's fonts) for accented captions, else Pillow's."""
    try:
        return ImageFont.truetype(PNG_FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def atlas_png(atlas: Atlas, *, scale: int = 2) -> bytes:
    """The map as a PNG (Pillow, no browser): the same shapes and colours, insets framed, the
    legend and the source below."""
    geometry = map_geometry()
    legend_height = 80
    image = Image.new(
        "RGB", (geometry.width * scale, (geometry.height + legend_height) * scale), "white"
    )
    draw = ImageDraw.Draw(image)
    small = _font(10 * scale)
    for inset in geometry.insets:
        draw.rectangle(
            [
                inset.x * scale,
                inset.y * scale,
                (inset.x + inset.width) * scale,
                (inset.y + inset.height) * scale,
            ],
            outline="#929292",
        )
        draw.text(
            (inset.label_x * scale, inset.label_y * scale),
            inset.name,
            fill="#161616",
            font=small,
            anchor="ls",
        )
    for item in atlas_shapes(atlas):
        colour = "#f6f6f6" if item.figures is None else PNG_COLOURS[item.figures.share_class]
        for polygon in item.shape.polygons:
            draw.polygon(
                [(x * scale, y * scale) for x, y in polygon],
                fill=colour,
                outline="#ffffff" if item.figures else "#cecece",
            )
    top = geometry.height + 4
    draw.text(
        (MARGIN * scale, (top + 10) * scale),
        "Part des ESSMS éligibles atteinte :",
        fill="#161616",
        font=small,
        anchor="ls",
    )
    x, y = MARGIN, top + 16
    for index, label in legend():
        room = 14 + math.ceil(draw.textlength(label, font=small) / scale) + 12
        if x + room > geometry.width:  # wrap the legend rather than cut it
            x, y = MARGIN, y + 16
        draw.rectangle(
            [x * scale, y * scale, (x + 10) * scale, (y + 10) * scale],
            fill=PNG_COLOURS[index],
            outline="#929292",
        )
        draw.text(
            ((x + 14) * scale, (y + 9) * scale), label, fill="#161616", font=small, anchor="ls"
        )
        x += room
    draw.text(
        (MARGIN * scale, (y + 30) * scale),
        "Contours : IGN — Admin Express, via france-geojson (Grégoire David), Licence Ouverte.",
        fill="#666666",
        font=small,
        anchor="ls",
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
