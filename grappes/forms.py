"""Applicant forms for organisations, ESSMS and grappes (French labels, errors by field)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from .models import (
    Departement,
    DuiSolution,
    FinessCategory,
    LegalForm,
    Organisation,
    ProjectType,
    Structure,
)
from .segur import segur_policy

LEGAL_FORM_HELP = (
    "Son acte fondateur est une pièce obligatoire du dossier : la convention constitutive du "
    "GCSMS, les statuts du groupement ou la convention de grappe signée."
)


class JoinOrganisationForm(forms.Form):
    finess = forms.CharField(
        label="FINESS juridique (EJ) de votre organisme gestionnaire",
        max_length=9,
        min_length=9,
        help_text="9 caractères, par exemple 010000016.",
    )


class StructureAddForm(forms.Form):
    finess = forms.CharField(
        label="FINESS géographique (ET) de l'établissement", max_length=9, min_length=9
    )
    name = forms.CharField(
        label="Nom (seulement s'il est absent du référentiel)", required=False, max_length=255
    )
    category = forms.ModelChoiceField(
        label="Catégorie FINESS (idem)", required=False, queryset=FinessCategory.objects.all()
    )
    departement = forms.ModelChoiceField(
        label="Département (idem)", required=False, queryset=Departement.objects.all()
    )


class GrappeForm(forms.Form):
    name = forms.CharField(label="Nom de la grappe", max_length=255)
    legal_form = forms.ChoiceField(
        label="Forme juridique de la grappe",
        choices=LegalForm.choices,
        widget=forms.RadioSelect,
        initial=LegalForm.CONVENTION,
        help_text=LEGAL_FORM_HELP,
    )
    description = forms.CharField(
        label="Description du projet",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=5000,
    )


class LegalFormForm(forms.Form):
    """The grappe's legal form, changed by its porteur while the grappe is not locked."""

    legal_form = forms.ChoiceField(
        label="Forme juridique de la grappe",
        choices=LegalForm.choices,
        widget=forms.RadioSelect,
        help_text=LEGAL_FORM_HELP,
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label="Adresse électronique du gestionnaire à inviter")


class AcceptInvitationForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label="Rejoindre avec l'organisme", queryset=Organisation.objects.none()
    )

    def __init__(self, *args: object, organisations: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]


class MembershipForm(forms.Form):
    """One ESSMS put in the grappe, with its project; a proof is needed below 100 %."""

    structure = forms.ModelChoiceField(label="Établissement", queryset=Structure.objects.none())
    project_type = forms.ChoiceField(label="Type de projet", choices=ProjectType.choices)
    solution = forms.ModelChoiceField(
        label="Solution DUI",
        required=False,
        queryset=DuiSolution.objects.filter(active=True),
    )
    eligible_share = forms.DecimalField(
        label="Part éligible (%)",
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        decimal_places=2,
        initial=Decimal(100),
        help_text="Services à domicile : part des heures "
        "éligibles. Un justificatif sera demandé sous 100 %.",
    )

    def __init__(self, *args: object, structures: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["structure"].queryset = structures  # type: ignore[attr-defined]
        # Said where the solution is chosen, with the campaign's own year (issue #14.11).
        policy = segur_policy()
        since = f"Depuis la campagne {policy.required_from_year}" if policy else "Depuis 2023"
        self.fields["solution"].help_text = (
            f"{since}, un établissement n'est financé qu'avec une solution référencée Ségur "
            "(sauf AHI et protection juridique ; un établissement rattaché à un GHT peut "
            "utiliser une solution du couloir hospitalier) : une solution « non référencée "
            "Ségur », ou aucune, bloquera le dépôt du dossier de la grappe."
        )

    def share(self) -> Decimal:
        return (self.cleaned_data["eligible_share"] / Decimal(100)).quantize(Decimal("0.0001"))
