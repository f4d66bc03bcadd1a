"""The dashboard's SVG written in Python (applications/templatetags/dashboard_svg.py): data is
escaped (labels come from agents and applicants), and the markup keeps what the page's tests
and stylesheet read."""

from __future__ import annotations

from applications.reporting.atlas import (
    DepartementFigures,
    Inset,
    MapGeometry,
    MapShape,
    Shape,
)
from applications.reporting.dashboard import Bar, BarChart, BarGroup
from applications.templatetags.dashboard_svg import atlas_map_svg, bar_chart_svg

HOSTILE = "Appel <script>alert(1)</script> & « d'été »"


def _chart(series: tuple[str, ...]) -> BarChart:
    bars = tuple(
        Bar(series=name, value=10, x=100, y=20, width=50, height=14, text="10 €") for name in series
    )
    return BarChart(
        slug="montants",
        title=HOSTILE,
        description="Montants",
        series=series,
        groups=(BarGroup(label=HOSTILE, label_y=30, bars=bars),),
        width=600,
        height=200,
        plot_x=180,
    )


def test_bar_chart_escapes_labels_and_keeps_its_classes():
    svg = str(bar_chart_svg(_chart(("Demandé", "<Accordé>"))))
    assert "<script>" not in svg
    assert "Appel &lt;script&gt;alert(1)&lt;/script&gt; &amp; « d&#x27;été »" in svg
    assert svg.startswith('<svg class="portal-chart" role="img"')
    assert 'class="portal-chart__bar portal-chart__bar--1"' in svg
    assert 'class="portal-chart__bar portal-chart__bar--2"' in svg
    assert "&lt;Accordé&gt; : 10 €" in svg
    assert 'x="174" y="30" text-anchor="end"' in svg  # the label right of plot_x - 6
    assert 'x="154" y="32" font-size="12"' in svg  # the value after its bar


def test_single_series_chart_uses_the_second_colour_and_no_series_prefix():
    svg = str(bar_chart_svg(_chart(("Demandé",))))
    assert 'portal-chart__bar--2"' in svg
    assert "portal-chart__bar--1" not in svg
    assert ">10 €</text>" in svg


def test_atlas_map_escapes_titles_and_colours_by_share():
    shape = Shape(code="2A", name=HOSTILE, path="M0 0L1 1Z", polygons=())
    inset = Inset(code="971", name="Guadeloupe <x>", x=1.5, y=2.0, width=30.0, height=20.0)
    figures = DepartementFigures(
        code="2A", name=HOSTILE, funded_essms=3, amount=75_000, eligible_essms=6
    )
    geometry = MapGeometry(width=800, height=600, shapes=(shape,), insets=(inset,))
    svg = str(atlas_map_svg(geometry, [MapShape(shape, figures), MapShape(shape, None)]))
    assert "<script>" not in svg and "<x>" not in svg
    assert 'viewBox="0 0 800 600"' in svg
    assert 'x="1.5" y="2.0" width="30.0" height="20.0"' in svg
    assert f'portal-atlas__dep--{figures.share_class}" data-code="2A" d="M0 0L1 1Z"' in svg
    assert 'portal-atlas__dep--out" data-code="2A"' in svg
    assert "hors de votre périmètre" in svg
    assert "75 000 € accordés" in svg.replace("\u202f", " ").replace("\xa0", " ")
