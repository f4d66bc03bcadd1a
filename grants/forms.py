"""Forms of the follow-up: French labels, errors next to their field."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.utils import timezone


class BankDetailsForm(forms.Form):
    holder = forms.CharField(label="Titulaire du compte", max_length=140)
    siret = forms.CharField(
        label="SIRET du bénéficiaire", max_length=20, help_text="14 chiffres, sans espace."
    )
    iban = forms.CharField(
        label="IBAN", max_length=42, help_text="Par exemple FR76 3000 6000 0112 3456 7890 189."
    )
    bic = forms.CharField(label="BIC", max_length=11, help_text="8 ou 11 caractères.")
    rib = forms.FileField(
        label="Relevé d'identité bancaire (RIB)", help_text="PDF, PNG ou JPEG, 10 Mo au plus."
    )


class SignedConventionForm(forms.Form):
    signed_copy = forms.FileField(
        label="Convention signée par le représentant du porteur",
        help_text="PDF, 10 Mo au plus.",
    )


class MeasurementReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Vérification",
        choices=[("validate", "Valider"), ("reject", "Rejeter")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label="Commentaire", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class PaidForm(forms.Form):
    paid_on = forms.DateField(
        label="Date du paiement",
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=timezone.localdate,
    )


class MeasurementsFileForm(forms.Form):
    file = forms.FileField(
        label="Fichier de mesures (CSV)",
        help_text="Colonnes finess;indicator;value;measured_on, UTF-8 ou Latin-1.",
    )


class AmendmentForm(forms.Form):
    """An amendment: its reason, the ESSMS leaving the project (checkboxes of the grant's lines
    in force) and those joining it (FINESS numbers typed); the service checks the numbers."""

    reason = forms.CharField(
        label="Motif de l'avenant",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Par exemple : sortie de l'EHPAD … du projet au 1er mars. Les lignes sont "
        "recalculées d'après la composition de la grappe qui en résulte.",
    )
    leaving = forms.MultipleChoiceField(
        label="ESSMS qui quittent le projet",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Ils quittent la grappe à la validation de l'avenant.",
    )
    joining = forms.CharField(
        label="ESSMS qui rejoignent le projet",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Numéros FINESS géographiques, un par ligne ou séparés par des virgules ; "
        "ESSMS ouverts des gestionnaires de la grappe. Ils la rejoignent à la validation.",
    )

    def __init__(self, *args: Any, lines: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["leaving"].choices = [  # type: ignore[attr-defined]
            (line["finess"], f"{line['name']} ({line['finess']})") for line in lines
        ]

    def clean_joining(self) -> list[str]:
        """The FINESS numbers typed, split on line breaks, commas, semicolons and spaces."""
        return [value for value in re.split(r"[\s,;]+", self.cleaned_data["joining"]) if value]


class MeasurementDeclarationForm(forms.Form):
    """A value declared by the porteur: the selects list only the funded ESSMS of the grant and
    the indicators that apply to one of them (``measurements.measurement_declarable``); the
    service checks the pair, the value, the date and the evidence."""

    structure_finess = forms.ChoiceField(label="ESSMS")
    indicator_code = forms.ChoiceField(label="Indicateur")
    value = forms.CharField(
        label="Valeur mesurée",
        max_length=40,
        help_text="Un nombre positif, deux décimales au plus (par exemple 82,5).",
    )
    measured_on = forms.DateField(
        label="Date de la mesure", widget=forms.DateInput(attrs={"type": "date"})
    )
    evidence = forms.FileField(
        label="Justificatif",
        help_text="PDF, ODT, DOCX, XLSX, PNG ou JPEG, 10 Mo au plus.",
        error_messages={"required": "Joignez le justificatif de la mesure."},
    )

    def __init__(self, *args: Any, declarable: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["structure_finess"].choices = [  # type: ignore[attr-defined]
            ("", "Choisir un ESSMS"),
            *(
                (finess, f"{essms.structure.name} ({finess})")
                for finess, essms in declarable.items()
            ),
        ]
        indicators = {
            indicator.code: indicator.label
            for essms in declarable.values()
            for indicator in essms.indicators
        }
        self.fields["indicator_code"].choices = [  # type: ignore[attr-defined]
            ("", "Choisir un indicateur"),
            *indicators.items(),
        ]
