"""Issue #13 (load test): the queue's table body, written in Python by ``{% queue_rows page %}``,
is character for character what its former template loop wrote — names escaped, numbers
localised, dates in the local time zone, the review links, the empty page's row."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import engines
from django.utils import timezone

# The loop as templates/applications/instruction/queue.html wrote it before the tag.
QUEUE_LOOP = """{% for application in page %}
        <tr>
          <td><a href="{% url 'applications:review' application.pk %}">{{ application.pk }}</a></td>
          <td>{{ application.grappe.name }}<br><small>{{ application.grappe.porteur.name }}</small></td>
          <td>{% if application.call.region %}{{ application.call.region.name }}{% else %}National{% endif %}</td>
          <td><p class="fr-badge fr-badge--sm">{{ application.get_status_display }}</p></td>
          <td>{{ application.essms_count }}</td>
          <td>{% if application.average_score is not None %}{{ application.average_score|floatformat:2 }}{% else %}—{% endif %}</td>
          <td>{% if application.assignee %}{{ application.assignee.email }}{% else %}—{% endif %}</td>
          <td>{{ application.submitted_at|date:"d/m/Y" }}</td>
        </tr>
      {% empty %}
        <tr><td colspan="8">Aucun dossier ne correspond à ces critères.</td></tr>
      {% endfor %}"""  # noqa: E501

HOSTILE = 'Grappe <script>"x"</script> & co'


def _row(pk: int, **changes: object) -> SimpleNamespace:
    porteur = SimpleNamespace(name="Porteur « un » & fils")
    values: dict[str, object] = {
        "pk": pk,
        "grappe": SimpleNamespace(name=f"Grappe {pk}", porteur=porteur),
        "call": SimpleNamespace(region=SimpleNamespace(name="Île-de-France")),
        "get_status_display": lambda: "En instruction",
        "essms_count": 12,
        "average_score": Decimal("71.456"),
        "assignee": SimpleNamespace(email="instructeur-01@national.demo.esms.fr"),
        # 23:30 UTC: already the next day in Paris.
        "submitted_at": datetime.datetime(2026, 3, 31, 23, 30, tzinfo=datetime.UTC),
    }
    values.update(changes)
    return SimpleNamespace(**values)


ROWS = [
    _row(1),
    _row(
        1234567,
        grappe=SimpleNamespace(name=HOSTILE, porteur=SimpleNamespace(name="<b>P</b>")),
        call=SimpleNamespace(region=None),
        get_status_display=lambda: "Déposé <b>",
        essms_count=1500,
        average_score=None,
        assignee=None,
        submitted_at=timezone.now(),
    ),
    _row(3, average_score=80.0, essms_count=0),
    _row(4, average_score=Decimal("0")),
]


def _render(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []], ids=["four", "one", "none"])
def test_the_queue_rows_are_what_the_loop_wrote(rows):
    tag = _render("{% load queue_tables %}{% queue_rows page %}", page=rows)
    assert tag == _render(QUEUE_LOOP, page=rows)
    if rows:
        assert "&lt;script&gt;" in tag or len(rows) == 1
        assert "<script>" not in tag
        assert "/instruction/dossiers/1/" in tag and "01/04/2026" in tag
    else:
        assert "Aucun dossier ne correspond" in tag
