"""Back-office forms: every error is attached to its field, in French."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms import BoundField
from django.utils import timezone

from essms_portal.accounts.models import User
from essms_portal.money import euros_form_field, format_euros

from ..forms import VersionedForm
from ..models import ScoringCriterion

MARKS = [(str(v), f"{v}") for v in range(6)]


class PlainChoiceIterator(forms.models.ModelChoiceIterator):
    """A model choice field's choices read by a plain query: Django's iterator reads them
    through ``QuerySet.iterator()``, a server-side cursor on PostgreSQL (DECLARE, FETCH,
    CLOSE: three round trips instead of one, and a cursor held open outside a transaction)
    for the review page's handful of instructeurs (issue #13). Same choices, same order."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class PlainModelChoiceField(forms.ModelChoiceField):
    iterator = PlainChoiceIterator


class AssignForm(forms.Form):
    assignee = PlainModelChoiceField(
        label="Instructeur en charge",
        queryset=User.objects.none(),
        required=False,
        empty_label="Personne",
    )

    def __init__(self, *args: object, reviewers: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["assignee"].queryset = reviewers  # type: ignore[attr-defined]


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Note interne (invisible du porteur)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )


class ReviewForm(forms.Form):
    """One 0-5 mark per criterion of the call's grid, plus a comment."""

    comment = forms.CharField(
        label="Appréciation générale",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
    )

    def __init__(self, *args: object, criteria: list[ScoringCriterion], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.criteria = criteria
        for criterion in criteria:
            self.fields[f"criterion_{criterion.pk}"] = forms.TypedChoiceField(
                label=f"{criterion.label} (pondération {criterion.weight})",
                help_text=criterion.help_text,
                choices=MARKS,
                coerce=int,
                widget=forms.RadioSelect,
            )
        self.order_fields([f"criterion_{c.pk}" for c in criteria] + ["comment"])

    def marks(self) -> dict[ScoringCriterion, int]:
        return {c: self.cleaned_data[f"criterion_{c.pk}"] for c in self.criteria}


class ComplementForm(VersionedForm):
    message = forms.CharField(
        label="Message au porteur", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )
    expected_items = forms.CharField(
        label="Pièces ou informations attendues (une par ligne)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )
    deadline = forms.DateField(
        label="Date limite de réponse", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_deadline(self) -> datetime.date:
        deadline: datetime.date = self.cleaned_data["deadline"]
        if deadline <= timezone.localdate():
            raise forms.ValidationError("La date limite doit être postérieure à aujourd'hui.")
        return deadline


@dataclass(frozen=True)
class ProposalRow:
    """A line of the proposal table: what was computed, the proposed amount and reason fields."""

    label: str
    computed: int
    amount: BoundField
    reason: BoundField


class ProposalForm(VersionedForm):
    """Proposed amount and reduction reason per quote line, recommendation and motivation."""

    recommendation = forms.ChoiceField(
        label="Recommandation",
        widget=forms.RadioSelect,
        choices=[("accept", "Accepter"), ("reject", "Refuser")],
    )
    motivation = forms.CharField(
        label="Motivation", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000
    )

    def __init__(self, *args: object, lines: list[tuple[str, str, int]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lines = lines
        for index, (_key, label, computed) in enumerate(lines):
            self.fields[f"amount_{index}"] = euros_form_field(
                f"{label} — proposé (€)",
                initial=computed,
                help_text=f"Montant calculé : {format_euros(computed)}",
            )
            self.fields[f"reason_{index}"] = forms.CharField(
                label=f"{label} — motif de la réduction",
                required=False,
                max_length=2000,
            )

    def rows(self) -> list[ProposalRow]:
        """One row per line for the proposal table: computed amount and its two fields."""
        return [
            ProposalRow(
                label=label,
                computed=computed,
                amount=self[f"amount_{index}"],
                reason=self[f"reason_{index}"],
            )
            for index, (_key, label, computed) in enumerate(self.lines)
        ]

    def running_total(self) -> int:
        """The proposed total as the form stands (submitted values, else initial ones); what is
        not a whole number counts 0. review.js keeps it current while the amounts are typed."""
        total = 0
        for row in self.rows():
            try:
                total += max(int(str(row.amount.value())), 0)
            except (TypeError, ValueError):
                continue
        return total

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        for index, (_key, _label, computed) in enumerate(self.lines):
            amount = data.get(f"amount_{index}")
            if amount is None:
                continue
            if amount > computed:
                self.add_error(
                    f"amount_{index}",
                    "Le montant proposé ne peut pas dépasser le montant calculé "
                    f"({format_euros(computed)}).",
                )
            elif amount < computed and not str(data.get(f"reason_{index}", "")).strip():
                self.add_error(f"reason_{index}", "Indiquez le motif de cette réduction.")
        return data

    def amounts(self) -> dict[str, tuple[int, str]]:
        return {
            key: (self.cleaned_data[f"amount_{i}"], self.cleaned_data[f"reason_{i}"].strip())
            for i, (key, _label, _computed) in enumerate(self.lines)
        }


class ActionForm(VersionedForm):
    comment = forms.CharField(
        label="Commentaire",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
    )
    override_reason = forms.CharField(
        label="Motif du dépassement d'enveloppe (agent CNSA)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
