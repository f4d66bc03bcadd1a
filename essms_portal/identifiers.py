"""Django validators for the programme's identifiers (FINESS, SIREN, SIRET).

The checks themselves are pure functions in ``funding.identifiers`` (no Django), re-exported
here for the portal's models, forms and services.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from funding.identifiers import (
    CORSICAN_FINESS_PREFIXES,
    LA_POSTE_SIREN,
    finess_error,
    finess_with_key,
    is_valid_finess,
    is_valid_siren,
    is_valid_siret,
    luhn_is_valid,
    siren_error,
    siren_with_key,
    siret_error,
    siret_with_key,
)

__all__ = [
    "CORSICAN_FINESS_PREFIXES",
    "LA_POSTE_SIREN",
    "finess_error",
    "finess_with_key",
    "is_valid_finess",
    "is_valid_siren",
    "is_valid_siret",
    "luhn_is_valid",
    "siren_error",
    "siren_with_key",
    "siret_error",
    "siret_with_key",
    "validate_finess",
    "validate_siren",
    "validate_siret",
]


def _raise_if(message: str | None) -> None:
    """Raise the Django ``ValidationError`` a form or model field expects, when there is one."""
    if message is not None:
        raise ValidationError(message, code="invalid")


def validate_finess(value: str) -> None:
    """Django validator: a FINESS number with a correct key (Corsican numbers on shape)."""
    _raise_if(finess_error(value))


def validate_siren(value: str) -> None:
    """Django validator: a SIREN with a correct key."""
    _raise_if(siren_error(value))


def validate_siret(value: str) -> None:
    """Django validator: a SIRET with a correct key."""
    _raise_if(siret_error(value))
