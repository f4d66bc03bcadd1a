"""Forms of the follow-up: French labels, errors next to their field."""

from __future__ import annotations

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
    reason = forms.CharField(
        label="Motif de l'avenant",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Par exemple : sortie de l'EHPAD … du projet au 1er mars. Les lignes sont "
        "recalculées d'après la composition actuelle de la grappe.",
    )
