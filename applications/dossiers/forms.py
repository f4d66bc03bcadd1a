"""Applicant forms for the dossier: every error is attached to its field, in French."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms

from essms_portal.money import euros_form_field, format_euros
from essms_portal.uploads import validate_upload
from grappes.models import GrappeMembership, Organisation

from ..forms import VersionedForm
from ..models import Attachment, Call, Campaign


class CreateApplicationForm(forms.Form):
    call: forms.ModelChoiceField = forms.ModelChoiceField(  # type: ignore[type-arg]
        label="Appel à projets", queryset=Call.objects.none()
    )

    def __init__(self, *args: object, calls: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["call"].queryset = calls  # type: ignore[attr-defined]


class ApplicationForm(VersionedForm):
    """Support requests; one hardware field per gestionnaire of the grappe. The caps in the help
    texts are the dossier's campaign's (``campaign``), never literals."""

    procurement = euros_form_field("Passation du marché demandée (€)", initial=0)
    steering = euros_form_field("Pilotage demandé (€)", initial=0)
    justification = forms.CharField(
        label="Justification des accompagnements demandés",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=10000,
    )

    def __init__(
        self,
        *args: object,
        organisations: Sequence[Organisation],
        campaign: Campaign,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.organisations = organisations
        self.fields[
            "procurement"
        ].help_text = f"Plafond : {format_euros(campaign.procurement_cap)} par grappe."
        self.fields[
            "steering"
        ].help_text = f"Plafond : {format_euros(campaign.steering_cap)} par grappe."
        hardware_help = (
            f"Plafond : {format_euros(campaign.hardware_cap)} par gestionnaire de moins de "
            f"{campaign.small_gestionnaire_max_essms + 1} ESSMS."
        )
        for organisation in organisations:
            self.fields[f"hardware_{organisation.pk}"] = euros_form_field(  # type: ignore[attr-defined]
                f"Matériel — {organisation.name} (€)",
                initial=0,
                required=False,
                help_text=hardware_help,
            )

    def hardware(self) -> dict[int, int]:
        return {
            o.pk: self.cleaned_data.get(f"hardware_{o.pk}") or 0  # type: ignore[attr-defined]
            for o in self.organisations
        }


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label="Type de pièce", choices=[])
    file = forms.FileField(
        label="Fichier", help_text="PDF, ODT, DOCX, XLSX, PNG ou JPEG, 10 Mo au plus."
    )
    membership: forms.ModelChoiceField = forms.ModelChoiceField(  # type: ignore[type-arg]
        label="ESSMS concerné (justificatif de part éligible)",
        queryset=GrappeMembership.objects.none(),
        required=False,
    )

    def __init__(self, *args: object, memberships: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["kind"].choices = Attachment.Kind.choices  # type: ignore[attr-defined]
        self.fields["membership"].queryset = memberships  # type: ignore[attr-defined]

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        validate_upload(upload)
        return upload

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("kind") == "share_proof" and not data.get("membership"):
            self.add_error("membership", "Choisissez l'ESSMS dont ce document justifie la part.")
        return data


class ComplementAnswerForm(VersionedForm):
    answer = forms.CharField(
        label="Votre réponse", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000
    )
