"""Issue #13: the widgets drawn in Python by ``essms_portal.form_renderer`` are, character for
character, what Django's widget templates draw — whatever the values, attributes and labels."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from essms_portal.form_renderer import WidgetRenderer

HOSTILE = 'x" onfocus="alert(1)" <b>&amp;'
ATTRS = {
    "class": "fr-input review-amount",
    "required": True,
    "disabled": False,
    "maxlength": 40,
    "data-computed": Decimal("25000"),
    "data-hostile": HOSTILE,
    "data-safe": mark_safe("<i>déjà sûr</i>"),
    "aria-describedby": "id_amount_error",
}
CHOICES = [
    ("", "Personne"),
    (1469, "instructeur-01@national.demo.esms.fr"),
    ("lazy", gettext_lazy("Accepté")),
    ("int", 5),
    ("date", datetime.date(2026, 12, 2)),
    ("hostile", HOSTILE),
    ("Groupe <1>", [("a", "Premier"), ("b", "Second & dernier")]),
]


def _both(widget: forms.Widget, name: str, value: object, attrs: dict | None = None) -> None:
    fast = widget.render(name, value, attrs=attrs, renderer=WidgetRenderer())
    django = widget.render(name, value, attrs=attrs, renderer=DjangoTemplates())
    assert fast == django


@pytest.mark.parametrize(
    "widget",
    [
        forms.TextInput(attrs=ATTRS),
        forms.NumberInput(attrs=ATTRS),
        forms.EmailInput(),
        forms.URLInput(),
        forms.PasswordInput(render_value=True),
        forms.HiddenInput(),
        forms.DateInput(attrs={"type": "date"}),
        forms.DateTimeInput(),
        forms.TimeInput(),
        forms.CheckboxInput(attrs={"class": "fr-checkbox"}),
        forms.Textarea(attrs=ATTRS),
        forms.Select(choices=CHOICES, attrs={"class": "fr-select"}),
        forms.SelectMultiple(choices=CHOICES),
        forms.RadioSelect(choices=CHOICES),
        forms.CheckboxSelectMultiple(choices=CHOICES),
        forms.ClearableFileInput(),
    ],
    ids=lambda widget: type(widget).__name__,
)
@pytest.mark.parametrize(
    "value",
    [None, "", "12", 0, 1469, "lazy", HOSTILE, mark_safe("<b>sûr</b>"), Decimal("10000.50"),
     datetime.date(2026, 12, 2), True, False, ["a", "lazy", 1469]],
    ids=repr,
)  # fmt: skip
def test_a_widget_draws_the_same_html_as_django_templates(widget, value):
    _both(widget, "amount", value, attrs={"id": "id_amount"})


def _choices(renderer: object, widget: forms.Widget, *, wrap_label: bool) -> list[str]:
    form_class = type(
        "MarkForm",
        (forms.Form,),
        {"mark": forms.ChoiceField(choices=CHOICES, widget=widget), "default_renderer": renderer},
    )
    form = form_class(data={"mark": "lazy"})
    return [choice.tag(wrap_label=wrap_label) for choice in form["mark"]]


@pytest.mark.parametrize("wrap_label", [True, False])
@pytest.mark.parametrize("widget_class", [forms.RadioSelect, forms.CheckboxSelectMultiple])
def test_each_radio_and_checkbox_of_a_choice_draws_the_same_html(widget_class, wrap_label):
    """What the evaluation's marks draw: ``{{ choice.tag }}`` per radio."""
    widget = widget_class(choices=CHOICES)
    fast = _choices(WidgetRenderer(), widget, wrap_label=wrap_label)
    assert fast == _choices(DjangoTemplates(), widget, wrap_label=wrap_label)
    assert len(fast) == 8


def test_the_known_widgets_do_not_reach_the_template_engine(monkeypatch):
    def no_template(self, template_name):
        raise AssertionError(f"gabarit {template_name} rendu")

    monkeypatch.setattr(WidgetRenderer, "get_template", no_template)
    drawn = forms.NumberInput(attrs=ATTRS).render("amount", "12", renderer=WidgetRenderer())
    assert drawn.startswith('<input type="number" name="amount" value="12" class=')
    assert 'data-hostile="x&quot; onfocus=&quot;alert(1)&quot; &lt;b&gt;&amp;amp;"' in drawn


def test_an_option_drawn_by_another_template_goes_to_the_template():
    class Custom(forms.Select):
        option_template_name = "django/forms/widgets/select_option.html"

        def create_option(self, *args, **kwargs):
            option = super().create_option(*args, **kwargs)
            option["template_name"] = "django/forms/widgets/input_option.html"
            return option

    _both(Custom(choices=CHOICES), "who", "lazy")
