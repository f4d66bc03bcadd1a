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


def _share(share: Any) -> str:
    """``{% if share is not None %}{{ share }} %{% else %}—{% endif %}``"""
    return "—" if share is None else f"{template_value(share)} %"


@register.simple_tag
def atlas_rows(atlas: Any) -> SafeString:
    """The atlas table's body rows: each département, then the amounts outside any."""
    parts = []
    for row in atlas.rows:
        parts.append(
            f'<tr><th scope="row">{template_value(row.code)} {template_value(row.name)}</th>'
            f"{AMOUNT_CELL}{template_value(row.funded_essms)}</td>"
            f"{AMOUNT_CELL}{template_value(euros(row.amount))}</td>"
            f"{AMOUNT_CELL}{template_value(row.eligible_essms)}</td>"
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
    for row, counts in rows:
        cells = "".join(f"<td>{template_value(n)}</td>" for n in counts)
        parts.append(f'<tr><th scope="row">{template_value(row.label)}</th>{cells}</tr>')
    return mark_safe("".join(parts))  # noqa: S308 — every value escaped by template_value
