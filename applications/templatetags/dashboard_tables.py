"""The dashboard's two long tables, written in Python: the atlas (a row per département, five
figures each) and the ESSMS per call and sector (a cell per call and sector).

As ``{% for %}`` loops they were about 1 200 template variables per view, localised and escaped
one by one: most of the dashboard's remaining rendering time on the national dataset (issue
#13). The markup is the one the loops wrote, character for character
(tests/applications/test_dashboard_tables.py renders both); every value goes through
``template_value``, what ``{{ value }}`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from essms_portal.template_values import template_value
from essms_portal.templatetags.money import euros

register = template.Library()

AMOUNT_CELL = '<td class="portal-amount">'


class _Values(dict[Any, str]):
    """``template_value`` of the whole numbers of one table, each distinct one written once:
    most cells are small counts (0, 1, 2…) that a national table repeats hundreds of times, and
    each localisation reads the language's formats again. One instance per rendering, so the
    language and settings are the same for every cell; other values go straight through."""

    def __call__(self, value: Any) -> str:
        # Whole numbers only, by exact type: as keys, 1, 1.0, True and Decimal(1) are equal.
        if type(value) is not int:
            return template_value(value)
        text = self.get(value)
        if text is None:
            text = self[value] = template_value(value)
        return text


def _share(share: Any) -> str:
    """``{% if share is not None %}{{ share }} %{% else %}—{% endif %}``"""
    return "—" if share is None else f"{template_value(share)} %"


@register.simple_tag
def atlas_rows(atlas: Any) -> SafeString:
    """The atlas table's body rows: each département, then the amounts outside any."""
    parts = []
    number = _Values()
    for row in atlas.rows:
        parts.append(
            f'<tr><th scope="row">{template_value(row.code)} {template_value(row.name)}</th>'
            f"{AMOUNT_CELL}{number(row.funded_essms)}</td>"
            f"{AMOUNT_CELL}{template_value(euros(row.amount))}</td>"
            f"{AMOUNT_CELL}{number(row.eligible_essms)}</td>"
            f"{AMOUNT_CELL}{_share(row.share)}</td></tr>\n      "
        )
    elsewhere = atlas.elsewhere
    if elsewhere:
        parts.append(
            f'<tr><th scope="row">{template_value(elsewhere.name)}</th>'
            f"{AMOUNT_CELL}{template_value(elsewhere.funded_essms)}</td>"
            f"{AMOUNT_CELL}{template_value(euros(elsewhere.amount))}</td>"
            f"{AMOUNT_CELL}—</td>{AMOUNT_CELL}—</td></tr>"
        )
    return mark_safe("".join(parts))  # noqa: S308 — every value escaped by template_value


@register.simple_tag
def sector_rows(rows: Sequence[tuple[Any, Sequence[int]]]) -> SafeString:
    """The ESSMS-per-sector table's body: a row per call, a cell per sector."""
    parts = []
    number = _Values()
    for row, counts in rows:
        cells = "".join(f"<td>{number(n)}</td>" for n in counts)
        parts.append(f'<tr><th scope="row">{template_value(row.label)}</th>{cells}</tr>')
    return mark_safe("".join(parts))  # noqa: S308 — every value escaped by template_value
