"""The queue's table body written in Python: a row per dossier of the page, eight cells each.

As a ``{% for %}`` loop it was about 250 template variables, filters and ``{% url %}`` per view
(25 rows), each looked up, localised and escaped one by one: the largest part of the queue's
rendering once its filter form was drawn in Python (issue #13, load test). The markup is the
loop's, character for character (tests/applications/test_queue_tables.py renders both); every
value goes through ``template_value`` (what ``{{ value }}`` does) and the filters through
Django's own functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.template.defaultfilters import date, floatformat
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in the stubs

from essms_portal.template_values import template_value

register = template.Library()

# A dossier number no dossier has: the review address is reversed once per page, with this
# number, then each row's number is put in its place.
_SENTINEL = "918273645"
EMPTY = (
    '\n        <tr><td colspan="8">Aucun dossier ne correspond à ces critères.</td></tr>\n      '
)


def _or_dash(condition: Any, value: Any) -> str:
    return template_value(value) if condition else "—"


def _row(application: Any, review_url: str) -> str:
    """One ``<tr>``, as the loop's body wrote it (with its newlines and indentation)."""
    pk = template_value(application.pk)
    url = review_url.replace(_SENTINEL, str(application.pk))
    grappe = application.grappe
    region = application.call.region
    score = application.average_score
    score_text = "—" if score is None else template_value(floatformat(score, "2"))
    submitted = template_value(date(template_localtime(application.submitted_at), "d/m/Y"))
    assignee = application.assignee
    return (
        "\n        <tr>\n"
        f'          <td><a href="{url}">{pk}</a></td>\n'
        f"          <td>{template_value(grappe.name)}<br>"
        f"<small>{template_value(grappe.porteur.name)}</small></td>\n"
        f"          <td>{template_value(region.name) if region else 'National'}</td>\n"
        '          <td><p class="fr-badge fr-badge--sm">'
        f"{template_value(application.get_status_display())}</p></td>\n"
        f"          <td>{template_value(application.essms_count)}</td>\n"
        f"          <td>{score_text}</td>\n"
        f"          <td>{_or_dash(assignee, assignee.email if assignee else None)}</td>\n"
        f"          <td>{submitted}</td>\n"
        "        </tr>\n      "
    )


@register.simple_tag
def queue_rows(page: Iterable[Any]) -> SafeString:
    """The queue table's ``<tbody>`` content: the page's dossiers, or the « no dossier » row."""
    # ``{% url %}`` escapes the address it writes.
    review_url = template_value(reverse("applications:review", args=[_SENTINEL]))
    rows = [_row(application, review_url) for application in page]
    return mark_safe("".join(rows) if rows else EMPTY)  # noqa: S308 — values escaped above
