"""Issue #13: the dashboard's atlas and sector tables, written in Python, are character for
character what their former template loops wrote — values localised (decimal comma) and
escaped."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import engines

# The loops as the dashboard's template wrote them before the tags.
ATLAS_LOOP = (
    "{% load money %}"
    '{% for row in atlas.rows %}<tr><th scope="row">{{ row.code }} {{ row.name }}</th>'
    '<td class="portal-amount">{{ row.funded_essms }}</td><td class="portal-amount">'
    '{{ row.amount|euros }}</td><td class="portal-amount">{{ row.eligible_essms }}</td>'
    '<td class="portal-amount">{% if row.share is not None %}{{ row.share }} %{% else %}—'
    "{% endif %}</td></tr>\n      {% endfor %}{% if atlas.elsewhere %}"
    '<tr><th scope="row">{{ atlas.elsewhere.name }}</th><td class="portal-amount">'
    '{{ atlas.elsewhere.funded_essms }}</td><td class="portal-amount">'
    '{{ atlas.elsewhere.amount|euros }}</td><td class="portal-amount">—</td>'
    '<td class="portal-amount">—</td></tr>{% endif %}'
)
SECTOR_LOOP = (
    '{% for row, counts in sector_rows %}<tr><th scope="row">{{ row.label }}</th>'
    "{% for n in counts %}<td>{{ n }}</td>{% endfor %}</tr>{% endfor %}"
)


def _render(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


def _row(code: str, name: str, funded: int, amount: object, eligible: int, share: object):
    return SimpleNamespace(
        code=code, name=name, funded_essms=funded, amount=amount, eligible_essms=eligible,
        share=share,
    )  # fmt: skip


ROWS = [
    _row("01", "Ain", 3, Decimal("75000"), 40, Decimal("7.5")),
    _row("2A", "Corse-du-Sud", 0, 0, 12, Decimal("0")),
    _row("75", 'Paris <script>"x"</script> & co', 1234, 1234567, 2000, None),
    _row("976", "Mayotte", 0, None, 0, 12),
]


@pytest.mark.parametrize(
    "elsewhere",
    [None, SimpleNamespace(name="Hors département <connu>", funded_essms=2, amount=50000)],
)
def test_the_atlas_rows_are_what_the_loop_wrote(elsewhere):
    atlas = SimpleNamespace(rows=ROWS, elsewhere=elsewhere)
    tag = _render("{% load dashboard_tables %}{% atlas_rows atlas %}", atlas=atlas)
    assert tag == _render(ATLAS_LOOP, atlas=atlas)
    assert "7,5 %" in tag and "&lt;script&gt;" in tag and "<script>" not in tag


def test_the_sector_rows_are_what_the_loop_wrote():
    rows = [
        (SimpleNamespace(label="Auvergne-Rhône-Alpes"), [0, 12, 1500]),
        (SimpleNamespace(label="National <CNSA> & « co »"), [7, 0, 3]),
        (SimpleNamespace(label="Vide"), []),
    ]
    tag = _render("{% load dashboard_tables %}{% sector_rows rows %}", rows=rows)
    assert tag == _render(SECTOR_LOOP, sector_rows=rows)
    assert "&lt;CNSA&gt; &amp;" in tag


def test_repeated_and_look_alike_numbers_are_each_written_as_the_loop_wrote_them():
    """Each distinct whole number is localised once per table: a count repeated across rows,
    and values equal to it as keys (True, 1.0, Decimal) but written otherwise, stay exact."""
    rows = [
        (SimpleNamespace(label="Appel A"), [1, 1, 1234, 0, 1234]),
        (SimpleNamespace(label="Appel B"), [True, 1.0, Decimal("1"), 1, 0, False, 1234567]),
    ]
    tag = _render("{% load dashboard_tables %}{% sector_rows rows %}", rows=rows)
    assert tag == _render(SECTOR_LOOP, sector_rows=rows)
    assert "<td>True</td>" in tag and "<td>1,0</td>" in tag
    atlas = SimpleNamespace(rows=[*ROWS, *ROWS], elsewhere=None)
    tag = _render("{% load dashboard_tables %}{% atlas_rows atlas %}", atlas=atlas)
    assert tag == _render(ATLAS_LOOP, atlas=atlas)
