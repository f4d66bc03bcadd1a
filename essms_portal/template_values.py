"""What ``{{ value }}`` writes in an autoescaping Django template, for the markup the portal
writes in Python where a template loop was too slow (the form widgets, the dashboard's tables:
issue #13): Django's own ``render_value_in_context`` — the value in the local time zone and
localised when it is not a string, then escaped unless it is already safe."""

from __future__ import annotations

from typing import Any

from django.template import Context
from django.template.base import render_value_in_context

# A template's default context (autoescape on, time zone and localisation from the settings);
# only read by ``render_value_in_context``, so one instance serves every thread.
_DEFAULT_CONTEXT = Context()


def template_value(value: Any) -> str:
    """``{{ value }}``, escaped (a safe string stays as it is)."""
    return str(render_value_in_context(value, _DEFAULT_CONTEXT))
