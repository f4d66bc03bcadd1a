"""The form renderer (``FORM_RENDERER``): Django's own widget templates, the commonest of them
written in Python with the very same output.

A review page draws about eighty widgets (an amount and a reason per line of the quote, six
marks per criterion, the action forms): through the template engine, each ``<input>`` costs an
``input.html`` and an ``attrs.html`` rendering, a third of the page's time (issue #13). The
functions below produce, character for character, what those templates produce — the same
escaping (``conditional_escape``), the same localisation of values that are not strings
(``localize``, ``template_localtime``), the same ``stringformat:'s'`` of values and attributes —
and anything they do not know (another template, a select whose options are drawn by another
template) goes to the templates as before.
``tests/essms_portal/test_form_renderer.py`` compares both on every widget the portal uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe

from .template_values import template_value

WIDGETS = "django/forms/widgets/"
# The templates that are nothing but ``{% include "django/forms/widgets/input.html" %}``.
INPUT_TEMPLATES = frozenset(
    f"{WIDGETS}{name}.html"
    for name in (
        "input",
        "text",
        "number",
        "email",
        "url",
        "password",
        "hidden",
        "date",
        "datetime",
        "time",
        "search",
        "tel",
        "color",
        "checkbox",
        "file",
    )
)
# ``{% include "django/forms/widgets/input_option.html" %}``
OPTION_TEMPLATES = frozenset(
    f"{WIDGETS}{name}.html" for name in ("input_option", "radio_option", "checkbox_option")
)
SELECT_OPTION = f"{WIDGETS}select_option.html"


class _Unknown(Exception):
    """A value the Python path does not render exactly like the template: use the template."""


def _formatted(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: the filter keeps a safe string safe."""
    try:
        text = "%s" % value  # noqa: UP031 — exactly what the filter does
    except (ValueError, TypeError):
        text = ""
    if isinstance(value, SafeData):
        text = mark_safe(text)  # noqa: S308 — the filter is_safe: a safe value stays safe
    return conditional_escape(text)


def _attrs(attrs: Mapping[str, Any]) -> str:
    """``attrs.html``."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {template_value(name)}")
        if value is not True:
            parts.append(f'="{_formatted(value)}"')
    return "".join(parts)


def _input(widget: Mapping[str, Any]) -> str:
    """``input.html``."""
    value = widget["value"]
    shown = "" if value is None else f' value="{_formatted(value)}"'
    kind, name = template_value(widget["type"]), template_value(widget["name"])
    return f'<input type="{kind}" name="{name}"{shown}{_attrs(widget["attrs"])}>'


def _input_option(widget: Mapping[str, Any]) -> str:
    """``input_option.html`` (a radio or a checkbox of a multiple choice)."""
    if not widget.get("wrap_label"):
        return _input(widget)
    option_id = widget["attrs"].get("id")
    label_for = f' for="{template_value(option_id)}"' if option_id else ""
    # input.html ends with a newline, which the label keeps (only the whole is stripped).
    return f"<label{label_for}>{_input(widget)}\n {template_value(widget['label'])}</label>"


def _textarea(widget: Mapping[str, Any]) -> str:
    """``textarea.html``."""
    value = widget["value"]
    content = template_value(value) if value else ""
    name = template_value(widget["name"])
    return f'<textarea name="{name}"{_attrs(widget["attrs"])}>\n{content}</textarea>'


def _select_option(widget: Mapping[str, Any]) -> str:
    """``select_option.html``."""
    return (
        f'<option value="{_formatted(widget["value"])}"{_attrs(widget["attrs"])}>'
        f"{template_value(widget['label'])}</option>"
    )


def _select(widget: Mapping[str, Any]) -> str:
    """``select.html``, when its options are drawn by ``select_option.html``."""
    parts = [f'<select name="{template_value(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{template_value(group_name)}">')
        for option in group_choices:
            if option["template_name"] != SELECT_OPTION:
                raise _Unknown
            # Each included option keeps the newline select_option.html ends with.
            parts.append(f"\n  {_select_option(option)}\n")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


_PYTHON: dict[str, Callable[[Mapping[str, Any]], str]] = {
    **dict.fromkeys(INPUT_TEMPLATES, _input),
    **dict.fromkeys(OPTION_TEMPLATES, _input_option),
    f"{WIDGETS}textarea.html": _textarea,
    f"{WIDGETS}select.html": _select,
    SELECT_OPTION: _select_option,
}


class WidgetRenderer(DjangoTemplates):
    """Django's templates renderer, with the widgets of ``_PYTHON`` drawn in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        draw = _PYTHON.get(template_name)
        widget = context.get("widget")
        if draw is not None and widget is not None:
            try:
                return draw(widget)
            except _Unknown:
                pass
        return super().render(template_name, context, request)  # type: ignore[no-any-return]
