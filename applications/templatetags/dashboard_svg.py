"""The dashboard's two kinds of SVG (bar charts, the atlas map), written in Python.

One template render per bar and per département (a hundred paths of several kilobytes each,
escaped at every request) was most of the dashboard's rendering time on the national dataset
(issue #13). The markup is the one the former templates wrote (tests/applications/test_dashboard.py
and test_atlas.py read it); every value coming from data is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..reporting.atlas import MapGeometry, MapShape
from ..reporting.dashboard import BarChart

register = template.Library()


def _number(value: object) -> str:
    """A coordinate as ``{% localize off %}`` writes it (``str``, never a decimal comma)."""
    return str(value)


@register.simple_tag
def bar_chart_svg(chart: BarChart) -> SafeString:
    """A horizontal bar chart: one ``<g>`` per group, a bar and its value per series."""
    single = len(chart.series) == 1
    slug = escape(chart.slug)
    parts = [
        f'<svg class="portal-chart" role="img" aria-labelledby="chart-{slug}-title '
        f'chart-{slug}-desc" viewBox="0 0 {chart.width} {chart.height}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{slug}-title">{escape(chart.title)}</title>',
        f'<desc id="chart-{slug}-desc">{escape(chart.description)}</desc>',
    ]
    for group in chart.groups:
        parts.append(
            f'<g><text x="{chart.plot_x - 6}" y="{group.label_y}" text-anchor="end" '
            f'font-size="13" fill="currentColor">{escape(group.label)}</text>'
        )
        for counter, bar in enumerate(group.bars, start=1):
            series = "" if single else f"{escape(bar.series)} : "
            parts.append(
                f'<rect class="portal-chart__bar portal-chart__bar--{2 if single else counter}" '
                f'x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}"></rect>'
                f'<text x="{bar.x + bar.width + 4}" y="{bar.y + 12}" font-size="12" '
                f'fill="currentColor">{series}{escape(bar.text)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every data value escaped above


@lru_cache(maxsize=256)
def _shape_markup(code: str, path: str) -> tuple[str, str]:
    """The constant parts of a département's path (the geometry never changes in a process):
    escaped once, the figures' class and title go between them. Keyed by the strings (their
    hash is cached), not by the shape, whose polygons would be hashed at every call."""
    return (f'" data-code="{escape(code)}" d="{escape(path)}"><title>', "</title></path>")


@register.simple_tag
def atlas_map_svg(atlas_map: MapGeometry, shapes: Sequence[MapShape]) -> SafeString:
    """The map: the overseas insets' frames, then one path per département coloured by the
    share of its eligible ESSMS funded, its figures in the path's ``<title>``."""
    parts = [
        '<svg class="portal-atlas" role="img" aria-labelledby="atlas-map-title atlas-map-desc" '
        f'viewBox="0 0 {atlas_map.width} {atlas_map.height}" width="100%" '
        'preserveAspectRatio="xMidYMin meet" xmlns="http://www.w3.org/2000/svg">',
        '<title id="atlas-map-title">Carte de France par département : part des ESSMS '
        "éligibles atteinte</title>",
        '<desc id="atlas-map-desc">Chaque département est coloré selon la part de ses ESSMS '
        "éligibles financés ; les départements d'outre-mer sont en encarts à gauche. Les "
        "chiffres de chaque département sont dans le tableau voisin.</desc>",
    ]
    for inset in atlas_map.insets:
        parts.append(
            f'<rect class="portal-atlas__inset" x="{_number(inset.x)}" y="{_number(inset.y)}" '
            f'width="{_number(inset.width)}" height="{_number(inset.height)}"></rect>'
            f'<text x="{_number(inset.label_x)}" y="{_number(inset.label_y)}" font-size="10" '
            f'fill="currentColor">{escape(inset.name)}</text>'
        )
    for item in shapes:
        middle, end = _shape_markup(item.shape.code, item.shape.path)
        parts.append(
            f'<path class="portal-atlas__dep portal-atlas__dep--{escape(item.share_class)}'
            f"{middle}{escape(item.title)}{end}"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every data value escaped above
