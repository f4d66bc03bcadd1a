"""Money helpers: amounts are whole euros, stored as DecimalField(12, 0), never floats."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from funding.money import decimal_fr, format_euros

__all__ = ["MAX_EUROS", "decimal_fr", "euros_field", "euros_form_field", "format_euros"]

EURO_DIGITS = 12
# The largest amount a column holds: every money field, model or form, is bounded by it, so a
# typo (one zero too many) is a form error, never a stored value that no page can read back.
MAX_EUROS = 10**EURO_DIGITS - 1


def euros_field(verbose_name: str, **kwargs: Any) -> models.DecimalField:  # type: ignore[type-arg]
    """A whole-euro amount column (12 digits, no decimals), validated between 0 and
    ``MAX_EUROS``."""
    validators = [MinValueValidator(0), MaxValueValidator(MAX_EUROS)]
    return models.DecimalField(
        verbose_name,
        max_digits=EURO_DIGITS,
        decimal_places=0,
        validators=validators,
        **kwargs,
    )


def euros_form_field(label: str, **kwargs: Any) -> forms.IntegerField:
    """A whole-euro form field bounded like the column, with French messages."""
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=MAX_EUROS,
        error_messages={
            "min_value": "Saisissez un montant positif ou nul.",
            "max_value": f"Montant trop élevé : {format_euros(MAX_EUROS)} au plus. "
            "Vérifiez le nombre de zéros.",
            "invalid": "Saisissez un montant en euros, sans centimes (par exemple 15000).",
        },
        **kwargs,
    )
