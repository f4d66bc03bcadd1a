"""Forms shared by the applicant pages and the back office (errors by field, in French)."""

from __future__ import annotations

from django import forms


class VersionedForm(forms.Form):
    """Carries the dossier version the page was loaded with (optimistic concurrency)."""

    version = forms.IntegerField(widget=forms.HiddenInput)


class MessageForm(forms.Form):
    text = forms.CharField(
        label="Votre message", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
