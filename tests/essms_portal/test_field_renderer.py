"""Issue #13 (load test): the DSFR field and form markup drawn in Python
(``essms_portal.field_renderer``: ``dsfr/field.html``, ``dsfr/uni_form.html``, so
``{{ form|crispy }}``) is, character for character, what crispy-forms' templates drew — for
every kind of field, bound or not, valid or not, with hostile, safe and lazy labels and help
texts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django import forms
from django.template import engines
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from applications.forms import MessageForm
from applications.instruction.forms import (
    ActionForm,
    ComplementForm,
    NoteForm,
    ProposalForm,
    ReviewForm,
)
from applications.models import ScoringCriterion

# The templates as they were before the Python renderer (templates/dsfr/field.html and
# templates/dsfr/uni_form.html), the reference every rendering is compared with.
FIELD_TEMPLATE = """{% load crispy_forms_field %}
{% if field.is_hidden %}{{ field }}{% else %}
{% if field|is_checkbox %}
<div class="fr-checkbox-group fr-mb-3w{% if field.errors %} fr-checkbox-group--error{% endif %}" id="div_{{ field.auto_id }}">
  {% crispy_field field %}
  <label class="fr-label" for="{{ field.id_for_label }}">{{ field.label }}{% if field.help_text %}<span class="fr-hint-text">{{ field.help_text|safe }}</span>{% endif %}</label>
  {% for error in field.errors %}<p class="fr-error-text" id="{{ field.auto_id }}_error">{{ error }}</p>{% endfor %}
</div>
{% elif field|is_radioselect or field|is_checkboxselectmultiple %}
<fieldset class="fr-fieldset{% if field.errors %} fr-fieldset--error{% endif %}" id="div_{{ field.auto_id }}" {% if field.errors %}aria-labelledby="{{ field.auto_id }}_legend {{ field.auto_id }}_error"{% endif %}>
  <legend class="fr-fieldset__legend" id="{{ field.auto_id }}_legend">{{ field.label }}{% if field.field.required %} <span aria-hidden="true">*</span>{% endif %}{% if field.help_text %}<span class="fr-hint-text">{{ field.help_text|safe }}</span>{% endif %}</legend>
  {% for choice in field %}
  <div class="fr-fieldset__element"><div class="{% if field|is_radioselect %}fr-radio-group{% else %}fr-checkbox-group{% endif %}">
    {{ choice.tag }}<label class="fr-label" for="{{ choice.id_for_label }}">{{ choice.choice_label }}</label>
  </div></div>
  {% endfor %}
  {% for error in field.errors %}<p class="fr-error-text fr-messages-group" id="{{ field.auto_id }}_error">{{ error }}</p>{% endfor %}
</fieldset>
{% else %}
{% with group=field|is_select|yesno:"fr-select-group,fr-input-group" widget_class=field|is_select|yesno:"fr-select,fr-input" errid=field.auto_id|add:"_error" %}
<div class="{% if field|is_file %}fr-upload-group{% else %}{{ group }}{% endif %}{% if field.errors %} {{ group }}--error{% endif %}" id="div_{{ field.auto_id }}">
  <label class="fr-label" for="{{ field.id_for_label }}">{{ field.label }}{% if field.field.required %} <span aria-hidden="true">*</span>{% endif %}
    {% if field.help_text %}<span class="fr-hint-text">{{ field.help_text|safe }}</span>{% endif %}
  </label>
  {% if field|is_file %}
    {% if field.errors %}{% crispy_field field 'class' 'fr-upload' 'aria-describedby' errid %}{% else %}{% crispy_field field 'class' 'fr-upload' %}{% endif %}
  {% elif field.errors %}{% crispy_field field 'class' widget_class 'aria-describedby' errid %}
  {% else %}{% crispy_field field 'class' widget_class %}{% endif %}
  {% for error in field.errors %}<p class="fr-error-text" id="{{ errid }}">{{ error }}</p>{% endfor %}
</div>
{% endwith %}
{% endif %}
{% endif %}
"""  # noqa: E501
UNI_FORM_TEMPLATE = """{% load crispy_forms_utils %}{% specialspaceless %}
{% include "dsfr/errors.html" %}
{% for field in form %}{% include field_template|default:"dsfr/field.html" %}{% endfor %}
{% endspecialspaceless %}
""".replace('{% include field_template|default:"dsfr/field.html" %}', "{% include old_field %}")

HOSTILE = 'x" onfocus="alert(1)" <b>&amp;'
CHOICES = [("", "Aucun"), ("a", "Premier"), ("b", HOSTILE), ("c", gettext_lazy("Accepté"))]


class EveryKindForm(forms.Form):
    """One field of every kind the DSFR field template tells apart."""

    text = forms.CharField(label="Nom <b>", help_text="Aide <i>sûre</i>", max_length=20)
    optional = forms.CharField(label=gettext_lazy("Facultatif"), required=False)
    hostile = forms.CharField(label=HOSTILE, required=False, help_text=mark_safe("<a>lien</a>"))
    amount = forms.IntegerField(label="Montant (€)", min_value=0)
    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    comment = forms.CharField(label="Commentaire", widget=forms.Textarea(attrs={"rows": 2}))
    choice = forms.ChoiceField(label="Choix", choices=CHOICES, required=False)
    several = forms.MultipleChoiceField(label="Plusieurs", choices=CHOICES[1:], required=False)
    radio = forms.ChoiceField(label="Radio", choices=CHOICES[1:], widget=forms.RadioSelect)
    boxes = forms.MultipleChoiceField(
        label="Cases",
        choices=CHOICES[1:],
        widget=forms.CheckboxSelectMultiple,
        help_text="Une ou plusieurs",
    )
    agree = forms.BooleanField(label="J'accepte", help_text="Obligatoire")
    maybe = forms.BooleanField(label="Peut-être", required=False)
    upload = forms.FileField(label="Pièce", required=False, help_text="PDF")
    needed = forms.FileField(label="Pièce obligatoire")
    secret = forms.CharField(widget=forms.HiddenInput, required=False)
    styled = forms.CharField(
        label="Déjà stylé", required=False, widget=forms.TextInput(attrs={"class": "fr-input x"})
    )
    when = forms.SplitDateTimeField(label="Quand", required=False)
    unknown = forms.NullBooleanField(label="Inconnu ?")


VALID = {
    "text": "Jean",
    "amount": "12",
    "day": "2026-12-02",
    "comment": "Bonjour <script>",
    "choice": "b",
    "several": ["a", "c"],
    "radio": "a",
    "boxes": ["b"],
    "agree": "on",
    "secret": HOSTILE,
}
INVALID = {
    "text": "x" * 30,
    "amount": "-3",
    "day": "hier",
    "choice": "z",
    "radio": "z",
    "when_0": "2026-12-02",
    "when_1": "midi",
}


def _criteria() -> list[ScoringCriterion]:
    return [
        ScoringCriterion(pk=7, label="Qualité <du projet>", weight=2, help_text="Aide"),
        ScoringCriterion(pk=9, label="Coût", weight=1, help_text=""),
    ]


LINES = [("hardware:1", "Matériel <ESSMS 1>", 25000), ("procurement", "Passation", 4000)]
FORMS: dict[str, Callable[[], forms.Form]] = {
    "every kind, unbound": lambda: EveryKindForm(initial={"text": "Jean", "boxes": ["a"]}),
    "every kind, valid": lambda: EveryKindForm(data=VALID),
    "every kind, invalid": lambda: EveryKindForm(data=INVALID),
    "every kind, no auto id": lambda: EveryKindForm(data=INVALID, auto_id=False),
    "every kind, prefixed": lambda: EveryKindForm(data={}, prefix="p", auto_id="f_%s"),
    "note": lambda: NoteForm(),
    "note, empty": lambda: NoteForm(data={"text": ""}),
    "message": lambda: MessageForm(),
    "action": lambda: ActionForm(initial={"version": 3}),
    "action, invalid": lambda: ActionForm(data={"version": "x", "comment": "ok"}),
    "complement": lambda: ComplementForm(initial={"version": 3}),
    "complement, invalid": lambda: ComplementForm(data={"version": "3", "deadline": "2000-01-01"}),
    "review": lambda: ReviewForm(criteria=_criteria()),
    "review, invalid": lambda: ReviewForm(data={"criterion_7": "9"}, criteria=_criteria()),
    "proposal": lambda: ProposalForm(initial={"version": 1}, lines=LINES),
    "proposal, invalid": lambda: ProposalForm(
        data={"version": "1", "amount_0": "30000", "amount_1": "100"}, lines=LINES
    ),
}


def _render(source: str, **context: object) -> str:
    return engines["django"].from_string(source).render(context)


def _old_field(field: forms.BoundField) -> str:
    return _render(FIELD_TEMPLATE, field=field)


@pytest.mark.parametrize("make", FORMS.values(), ids=FORMS.keys())
def test_each_field_is_what_the_field_template_drew(make):
    # A fresh form per rendering: crispy_field adds classes to the widgets it draws.
    for name in make().fields:
        old = _old_field(make()[name])
        assert "<" in old
        assert _render("{% load dsfr_forms %}{% dsfr_field field %}", field=make()[name]) == old
        assert _render('{% include "dsfr/field.html" %}', field=make()[name]) == old


@pytest.mark.parametrize("make", FORMS.values(), ids=FORMS.keys())
def test_a_whole_form_is_what_crispy_drew(make):
    old_field = engines["django"].from_string(FIELD_TEMPLATE)
    old = _render(UNI_FORM_TEMPLATE, form=make(), old_field=old_field)
    assert _render("{% load crispy_forms_tags %}{{ form|crispy }}", form=make()) == old
    if make().errors:
        assert "fr-alert--error" in old


def test_a_field_drawn_twice_is_drawn_the_same():
    """crispy_field's classes are added once, however often the widget is drawn."""
    form = EveryKindForm(data=INVALID)
    first = _render("{% load dsfr_forms %}{% dsfr_field f %}", f=form["text"])
    assert _render("{% load dsfr_forms %}{% dsfr_field f %}", f=form["text"]) == first
    assert 'class="textinput fr-input"' in first
    assert 'aria-describedby="id_text_error"' in first


# The proposal table's two cells as templates/applications/instruction/review/proposal.html
# wrote them before ``{% dsfr_table_input %}``.
AMOUNT_CELL = """{% load crispy_forms_field %}{% with field=row.amount errid=row.amount.auto_id|add:"_error" %}
              <div class="fr-input-group fr-mb-0{% if field.errors %} fr-input-group--error{% endif %}">
                <label class="fr-label fr-sr-only" for="{{ field.id_for_label }}">{{ field.label }}</label>
                {% if field.errors %}{% crispy_field field 'class' 'fr-input review-amount' 'aria-describedby' errid 'data-computed' row.computed %}{% else %}{% crispy_field field 'class' 'fr-input review-amount' 'data-computed' row.computed %}{% endif %}
                {% for error in field.errors %}<p class="fr-error-text" id="{{ errid }}">{{ error }}</p>{% endfor %}
              </div>{% endwith %}"""  # noqa: E501
REASON_CELL = """{% load crispy_forms_field %}{% with field=row.reason errid=row.reason.auto_id|add:"_error" %}
              <div class="fr-input-group fr-mb-0{% if field.errors %} fr-input-group--error{% endif %}">
                <label class="fr-label fr-sr-only" for="{{ field.id_for_label }}">{{ field.label }}</label>
                {% if field.errors %}{% crispy_field field 'class' 'fr-input' 'aria-describedby' errid %}{% else %}{% crispy_field field 'class' 'fr-input' %}{% endif %}
                {% for error in field.errors %}<p class="fr-error-text" id="{{ errid }}">{{ error }}</p>{% endfor %}
              </div>{% endwith %}"""  # noqa: E501
TABLE_LINES = [*LINES, ("steering", "Pilotage <b>", 0)]
PROPOSALS: dict[str, Callable[[], ProposalForm]] = {
    "unbound": lambda: ProposalForm(initial={"version": 1, "amount_1": 3000}, lines=TABLE_LINES),
    "invalid": lambda: ProposalForm(
        data={"version": "1", "amount_0": "30000", "amount_1": "100", "amount_2": "x"},
        lines=TABLE_LINES,
    ),
    "valid": lambda: ProposalForm(
        data={"version": "1", "amount_0": "25000", "amount_1": "4000", "amount_2": "0"},
        lines=TABLE_LINES,
    ),
}


@pytest.mark.parametrize("make", PROPOSALS.values(), ids=PROPOSALS.keys())
def test_the_proposal_cells_are_what_the_table_template_drew(make):
    for index, (old_row, new_row) in enumerate(zip(make().rows(), make().rows(), strict=True)):
        old = _render(AMOUNT_CELL, row=old_row)
        new = _render(
            '{% load dsfr_forms %}{% dsfr_table_input row.amount "fr-input review-amount" '
            "row.computed %}",
            row=new_row,
        )
        assert new == old, index
        assert f'data-computed="{TABLE_LINES[index][2]}"' in new
        old = _render(REASON_CELL, row=old_row)
        reason = '{% load dsfr_forms %}{% dsfr_table_input row.reason "fr-input" %}'
        new = _render(reason, row=new_row)
        assert new == old, index
        assert "data-computed" not in new


# A criterion's marks as templates/applications/instruction/review/evaluation.html wrote them
# before ``{% dsfr_marks %}``.
MARKS_FIELDSET = """<fieldset class="fr-fieldset{% if field.errors %} fr-fieldset--error{% endif %}" id="div_{{ field.auto_id }}" aria-labelledby="{{ field.auto_id }}_legend{% if field.errors %} {{ field.auto_id }}_error{% endif %}">
        <legend class="fr-fieldset__legend fr-text--regular" id="{{ field.auto_id }}_legend"><strong>{{ field.label }}</strong> <span aria-hidden="true">*</span>{% if field.help_text %}<span class="fr-hint-text">{{ field.help_text }}</span>{% endif %}</legend>
        {% for choice in field %}
        <div class="fr-fieldset__element fr-fieldset__element--inline"><div class="fr-radio-group">
          {{ choice.tag }}<label class="fr-label" for="{{ choice.id_for_label }}">{{ choice.choice_label }}</label>
        </div></div>
        {% endfor %}
        {% for error in field.errors %}<p class="fr-error-text fr-messages-group" id="{{ field.auto_id }}_error">{{ error }}</p>{% endfor %}
      </fieldset>"""  # noqa: E501
REVIEWS: dict[str, Callable[[], ReviewForm]] = {
    "unbound": lambda: ReviewForm(criteria=_criteria()),
    "invalid": lambda: ReviewForm(data={"criterion_7": "9"}, criteria=_criteria()),
    "valid": lambda: ReviewForm(
        data={"criterion_7": "3", "criterion_9": "0"}, criteria=_criteria()
    ),
    "hostile help": lambda: ReviewForm(
        criteria=[ScoringCriterion(pk=3, label=HOSTILE, weight=1, help_text=HOSTILE)]
    ),
}


@pytest.mark.parametrize("make", REVIEWS.values(), ids=REVIEWS.keys())
def test_the_marks_are_what_the_evaluation_template_drew(make):
    names = [name for name in make().fields if name.startswith("criterion_")]
    assert names
    for name in names:
        old = _render(MARKS_FIELDSET, field=make()[name])
        assert _render("{% load dsfr_forms %}{% dsfr_marks field %}", field=make()[name]) == old
        assert old.count('type="radio"') == 6


def test_another_field_template_is_still_rendered_as_a_template():
    """``uni_form.html`` with a ``field_template`` other than the DSFR one includes it per field
    in the including context, as crispy-forms' template did (the errors template reads
    ``form`` from that context)."""
    other = "dsfr/errors.html"
    old = _render(
        UNI_FORM_TEMPLATE.replace("{% include old_field %}", "{% include field_template %}"),
        form=NoteForm(data={}),
        field_template=other,
    )
    new = _render(
        '{% include "dsfr/uni_form.html" %}', form=NoteForm(data={}), field_template=other
    )
    assert new == old
    assert new.count('class="fr-alert fr-alert--error') == 2 and "fr-input-group" not in new
