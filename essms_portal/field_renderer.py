"""The DSFR markup of a form field (crispy-forms' ``dsfr/field.html``) and of a whole form
(``dsfr/uni_form.html``, what ``{{ form|crispy }}`` draws), written in Python with the very same
output.

Through the template engine, each field cost an include, a dozen ``{% if %}``, filters and
variable lookups and a ``{% crispy_field %}`` node: the queue's filter form (seven fields) and the
review page's forms (about fifteen fields) spent more in this markup than in their widgets
(issue #13, load test). The functions below follow the templates line by line — the same
newlines and indentation, the same escaping (``template_value`` is Django's own
``{{ value }}``), the same widget attributes added by crispy-forms' ``crispy_field`` — and the
widget itself is still drawn by the form renderer (``essms_portal.form_renderer``). The
templates' former text is kept in ``tests/essms_portal/test_field_renderer.py``, which renders
fields and forms of every kind through both and compares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.forms import BoundField
from django.template import Context
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from .template_values import template_value

FIELD_TEMPLATE = "dsfr/field.html"
ERRORS_TEMPLATE = "dsfr/errors.html"

# crispy-forms' ``remove_spaces`` (``{% specialspaceless %}``).
_SPACES = re.compile(r">\s{3,}<")
_CLOSED = re.compile(r"/><")


def specialspaceless(html: str) -> str:
    """``{% specialspaceless %}…{% endspecialspaceless %}``: stripped, runs of three or more
    blanks between tags made one space, a space after every self-closed tag."""
    return _CLOSED.sub(r"/> <", _SPACES.sub("> <", html.strip()))


def crispy_widget(field: BoundField, attrs: Sequence[tuple[str, Any]] = ()) -> str:
    """``{% crispy_field field name value … %}`` with its arguments already resolved: the
    widget's class name (through ``CRISPY_CLASS_CONVERTERS``) and the given attributes are
    added to the widget's attributes — which stay so, as with the tag — then the field is
    drawn."""
    widget = field.field.widget
    widgets = getattr(widget, "widgets", [getattr(widget, "widget", widget)])
    converters = getattr(settings, "CRISPY_CLASS_CONVERTERS", {})
    for each in widgets:
        class_name = each.__class__.__name__.lower()
        class_name = converters.get(class_name, class_name)
        css_class = each.attrs.get("class", "")
        if css_class:
            if css_class.find(class_name) == -1:
                css_class += f" {class_name}"
        else:
            css_class = class_name
        each.attrs["class"] = css_class
        for name, value in attrs:
            if name in each.attrs:
                # Several values in one attribute ("fr-input review-amount"): each added once.
                for part in value.split():
                    if part not in each.attrs[name].split():
                        each.attrs[name] += " " + part
            else:
                each.attrs[name] = value
    return str(field)


def _is_radioselect(widget: forms.Widget) -> bool:
    return isinstance(widget, forms.RadioSelect) and not isinstance(
        widget, forms.CheckboxSelectMultiple
    )


def _help(field: BoundField) -> str:
    """``{% if field.help_text %}<span …>{{ field.help_text|safe }}</span>{% endif %}``."""
    help_text = field.help_text
    return f'<span class="fr-hint-text">{help_text}</span>' if help_text else ""


def _required(field: BoundField) -> str:
    return ' <span aria-hidden="true">*</span>' if field.field.required else ""


def _errors(errors: Iterable[Any], css: str, error_id: str) -> str:
    return "".join(f'<p class="{css}" id="{error_id}">{template_value(e)}</p>' for e in errors)


def _checkbox(field: BoundField, auto_id: str) -> str:
    errors = field.errors
    return (
        f'\n<div class="fr-checkbox-group fr-mb-3w{" fr-checkbox-group--error" if errors else ""}"'
        f' id="div_{auto_id}">\n  {crispy_widget(field)}\n'
        f'  <label class="fr-label" for="{template_value(field.id_for_label)}">'
        f"{template_value(field.label)}{_help(field)}</label>\n"
        f"  {_errors(errors, 'fr-error-text', f'{auto_id}_error')}\n</div>\n"
    )


def _choices(field: BoundField, auto_id: str, radio: bool) -> str:
    errors = field.errors
    group = "fr-radio-group" if radio else "fr-checkbox-group"
    aria = f'aria-labelledby="{auto_id}_legend {auto_id}_error"' if errors else ""
    parts = [
        f'\n<fieldset class="fr-fieldset{" fr-fieldset--error" if errors else ""}"'
        f' id="div_{auto_id}" {aria}>\n'
        f'  <legend class="fr-fieldset__legend" id="{auto_id}_legend">'
        f"{template_value(field.label)}{_required(field)}{_help(field)}</legend>\n  "
    ]
    for choice in field:
        parts.append(
            f'\n  <div class="fr-fieldset__element"><div class="{group}">\n'
            f"    {template_value(choice.tag())}"
            f'<label class="fr-label" for="{template_value(choice.id_for_label)}">'
            f"{template_value(choice.choice_label)}</label>\n  </div></div>\n  "
        )
    parts.append(
        f"\n  {_errors(errors, 'fr-error-text fr-messages-group', f'{auto_id}_error')}"
        "\n</fieldset>\n"
    )
    return "".join(parts)


def _input(field: BoundField, widget: forms.Widget) -> str:
    errors = field.errors
    select = isinstance(widget, forms.Select)
    group = "fr-select-group" if select else "fr-input-group"
    widget_class = "fr-select" if select else "fr-input"
    # ``field.auto_id|add:"_error"``: the raw id, escaped where it is written.
    error_id = template_value(f"{field.auto_id}_error")
    auto_id = template_value(field.auto_id)
    is_file = isinstance(widget, forms.FileInput)
    if is_file:
        attrs = [("class", "fr-upload")]
        if errors:
            attrs.append(("aria-describedby", f"{field.auto_id}_error"))
        drawn = f"\n    {crispy_widget(field, attrs)}\n  "
    elif errors:
        attrs = [("class", widget_class), ("aria-describedby", f"{field.auto_id}_error")]
        drawn = f"{crispy_widget(field, attrs)}\n  "
    else:
        drawn = crispy_widget(field, [("class", widget_class)])
    return (
        f'\n\n<div class="{"fr-upload-group" if is_file else group}'
        f'{f" {group}--error" if errors else ""}" id="div_{auto_id}">\n'
        f'  <label class="fr-label" for="{template_value(field.id_for_label)}">'
        f"{template_value(field.label)}{_required(field)}\n"
        f"    {_help(field)}\n  </label>\n  {drawn}\n"
        f"  {_errors(errors, 'fr-error-text', error_id)}\n</div>\n\n"
    )


def field_html(field: BoundField) -> SafeString:
    """What ``{% include "dsfr/field.html" %}`` writes for ``field``."""
    if field.is_hidden:
        return mark_safe(f"\n{template_value(field)}\n")  # noqa: S308 - escaped as {{ field }}
    widget = field.field.widget
    auto_id = template_value(field.auto_id)
    if isinstance(widget, forms.CheckboxInput):
        body = _checkbox(field, auto_id)
    elif _is_radioselect(widget) or isinstance(widget, forms.CheckboxSelectMultiple):
        body = _choices(field, auto_id, radio=_is_radioselect(widget))
    else:
        body = _input(field, widget)
    return mark_safe(f"\n\n{body}\n\n")  # noqa: S308 - every value escaped above


def marks_html(field: BoundField) -> SafeString:
    """A criterion's marks on one line (the review page's evaluation): a fieldset whose legend
    is the criterion, then each radio inline with its label, then the errors."""
    errors = field.errors
    auto_id = template_value(field.auto_id)
    help_text = field.help_text
    hint = f'<span class="fr-hint-text">{template_value(help_text)}</span>' if help_text else ""
    parts = [
        f'<fieldset class="fr-fieldset{" fr-fieldset--error" if errors else ""}"'
        f' id="div_{auto_id}" aria-labelledby="{auto_id}_legend'
        f'{f" {auto_id}_error" if errors else ""}">\n'
        f'        <legend class="fr-fieldset__legend fr-text--regular" id="{auto_id}_legend">'
        f"<strong>{template_value(field.label)}</strong>"
        f' <span aria-hidden="true">*</span>{hint}</legend>\n        '
    ]
    for choice in field:
        parts.append(
            '\n        <div class="fr-fieldset__element fr-fieldset__element--inline">'
            '<div class="fr-radio-group">\n'
            f"          {template_value(choice.tag())}"
            f'<label class="fr-label" for="{template_value(choice.id_for_label)}">'
            f"{template_value(choice.choice_label)}</label>\n        </div></div>\n        "
        )
    errors_html = _errors(errors, "fr-error-text fr-messages-group", f"{auto_id}_error")
    parts.append(f"\n        {errors_html}\n      </fieldset>")
    return mark_safe("".join(parts))  # noqa: S308 - every value escaped


# ``computed`` not given (a reason field): no ``data-computed`` attribute at all.
NOT_GIVEN: Any = object()


def table_input_html(field: BoundField, css: str, computed: Any = NOT_GIVEN) -> SafeString:
    """A field in a table cell (the review page's proposal: an amount and a reason per line):
    its ``fr-input-group`` with a label for screen readers only, the widget with ``css`` (and
    ``data-computed`` when given) added as ``crispy_field`` adds them, its errors."""
    errors = field.errors
    attrs: list[tuple[str, Any]] = [("class", css)]
    if errors:
        attrs.append(("aria-describedby", f"{field.auto_id}_error"))
    if computed is not NOT_GIVEN:
        attrs.append(("data-computed", computed))
    error_id = template_value(f"{field.auto_id}_error")
    return mark_safe(  # noqa: S308 - every value escaped
        f'\n              <div class="fr-input-group fr-mb-0'
        f'{" fr-input-group--error" if errors else ""}">\n'
        '                <label class="fr-label fr-sr-only" '
        f'for="{template_value(field.id_for_label)}">'
        f"{template_value(field.label)}</label>\n"
        f"                {crispy_widget(field, attrs)}\n"
        f"                {_errors(errors, 'fr-error-text', error_id)}\n"
        "              </div>"
    )


def _included_fields(form: forms.BaseForm, name: str, context: Context | None) -> str:
    """``{% include field_template %}`` for each field, in the including template's context."""
    if context is None:
        template = get_template(name)
        return "".join(template.render({"field": field}) for field in form)
    included = context.template.engine.get_template(name)  # type: ignore[union-attr]
    parts = []
    for field in form:
        with context.push(field=field):
            parts.append(included.render(context))
    return "".join(parts)


def form_html(
    form: forms.BaseForm, field_template: str | None = None, context: Context | None = None
) -> SafeString:
    """What ``dsfr/uni_form.html`` (``{{ form|crispy }}``) writes for ``form``; a field template
    other than ``dsfr/field.html`` is included for each field as before, in ``context``."""
    errors = get_template(ERRORS_TEMPLATE).render({"form": form}) if form.errors else "\n"
    if field_template and field_template != FIELD_TEMPLATE:
        fields = _included_fields(form, field_template, context)
    else:
        fields = "".join(field_html(field) for field in form)
    return mark_safe(specialspaceless(f"\n{errors}\n{fields}\n"))  # noqa: S308
