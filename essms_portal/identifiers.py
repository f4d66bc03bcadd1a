"""Django validators for the programme's identifiers (FINESS, SIREN, SIRET) and bank details
(IBAN, BIC).

The checks themselves are pure functions in ``funding.identifiers`` (no Django), re-exported
here for the portal's models, forms and services.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from funding.identifiers import (
    CORSICAN_FINESS_PREFIXES,
    IBAN_LENGTHS,
    LA_POSTE_SIREN,
    bic_error,
    finess_error,
    finess_with_key,
    format_iban,
    iban_error,
    iban_with_key,
    is_valid_bic,
    is_valid_finess,
    is_valid_iban,
    is_valid_siren,
    is_valid_siret,
    luhn_is_valid,
    normalize_bic,
    normalize_iban,
    siren_error,
    siren_with_key,
    siret_error,
    siret_with_key,
)

__all__ = [
    "CORSICAN_FINESS_PREFIXES",
    "IBAN_LENGTHS",
    "LA_POSTE_SIREN",
    "bic_error",
    "finess_error",
    "finess_with_key",
    "format_iban",
    "iban_error",
    "iban_with_key",
    "is_valid_bic",
    "is_valid_finess",
    "is_valid_iban",
    "is_valid_siren",
    "is_valid_siret",
    "luhn_is_valid",
    "normalize_bic",
    "normalize_iban",
    "siren_error",
    "siren_with_key",
    "siret_error",
    "siret_with_key",
    "validate_bic",
    "validate_finess",
    "validate_iban",
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


def validate_iban(value: str) -> None:
    """Django validator: a SEPA IBAN (country, length, mod-97 key); spaces and case tolerated.

    A validator cannot change the value: forms store ``normalize_iban(value)``.
    """
    _raise_if(iban_error(value))


def validate_bic(value: str) -> None:
    """Django validator: a BIC of ISO 9362 shape (8 or 11 characters); spaces and case tolerated."""
    _raise_if(bic_error(value))
