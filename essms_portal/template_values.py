"""What ``{{ value }}`` writes in an autoescaping Django template, for the markup the portal
writes in Python where a template loop was too slow (the form widgets, the dashboard's tables:
issue #13): the value in the local time zone and localised when it is not a string, then
escaped unless it is already safe — ``django.template.base.render_value_in_context`` with the
default context."""

from __future__ import annotations

from typing import Any

from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]


def template_value(value: Any) -> str:
    """``{{ value }}``, escaped (a safe string stays as it is)."""
    value = localize(template_localtime(value))
    if not isinstance(value, str):
        value = str(value)
    return conditional_escape(value)
