"""The DSFR form markup drawn in Python with the former templates' output
(``essms_portal.field_renderer``): ``{% dsfr_field field %}`` (``dsfr/field.html``),
``{% dsfr_form form %}`` (``dsfr/uni_form.html``, so ``{{ form|crispy }}``), and the review
page's ``{% dsfr_table_input %}`` (proposal cells) and ``{% dsfr_marks %}`` (a criterion's
marks)."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BaseForm, BoundField
from django.template import Context
from django.utils.safestring import SafeString

from essms_portal.field_renderer import (
    NOT_GIVEN,
    field_html,
    form_html,
    marks_html,
    table_input_html,
)

register = template.Library()


@register.simple_tag
def dsfr_field(field: BoundField) -> SafeString:
    """What ``{% include "dsfr/field.html" %}`` writes for ``field``."""
    return field_html(field)


@register.simple_tag(takes_context=True)
def dsfr_form(context: Context, form: BaseForm, field_template: Any = None) -> SafeString:
    """What ``dsfr/uni_form.html`` writes for ``form``, but its last newline."""
    return form_html(form, field_template or None, context)


@register.simple_tag
def dsfr_table_input(field: BoundField, css: str, computed: Any = NOT_GIVEN) -> SafeString:
    """A field in a table cell: label for screen readers, widget with ``css``, errors."""
    return table_input_html(field, css, computed)


@register.simple_tag
def dsfr_marks(field: BoundField) -> SafeString:
    """A criterion's 0-5 marks on one line: legend, inline radios, errors."""
    return marks_html(field)
