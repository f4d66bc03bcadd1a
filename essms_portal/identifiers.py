"""Validators for the programme's identifiers: FINESS (EJ and ET), SIREN and SIRET.

All three carry a Luhn check digit (domain.md §7). Corsican FINESS numbers (2A/2B) cannot be
Luhn-checked and are accepted on their shape; La Poste's SIREN 356000000 and its SIRETs follow a
digit-sum rule instead of Luhn.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

LA_POSTE_SIREN = "356000000"


def luhn_is_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn check."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _luhn_key(body: str) -> str:
    """The check digit that makes ``body + key`` Luhn-valid."""
    for key in "0123456789":
        if luhn_is_valid(body + key):
            return key
    raise ValueError(body)  # unreachable: one of the ten digits always works


def finess_error(value: str) -> str | None:
    """None when ``value`` is a valid FINESS number, else a French message saying why."""
    if len(value) != 9:
        return "Le numéro FINESS doit comporter 9 caractères."
    if value[:2] in ("2A", "2B"):
        if not value[2:].isdigit():
            return "Le numéro FINESS ne doit comporter que des chiffres après 2A ou 2B."
        return None
    if not value.isdigit():
        return "Le numéro FINESS ne doit comporter que des chiffres (ou commencer par 2A/2B)."
    if not luhn_is_valid(value):
        return "La clé de contrôle du numéro FINESS est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_finess(value: str) -> bool:
    """True for a well-formed FINESS number with a correct key."""
    return finess_error(value) is None


def siren_error(value: str) -> str | None:
    """None when ``value`` is a valid SIREN, else a French message."""
    if len(value) != 9 or not value.isdigit():
        return "Le numéro SIREN doit comporter 9 chiffres."
    if value != LA_POSTE_SIREN and not luhn_is_valid(value):
        return "La clé de contrôle du numéro SIREN est incorrecte."
    return None


def is_valid_siren(value: str) -> bool:
    """True for a valid SIREN (Luhn, La Poste excepted)."""
    return siren_error(value) is None


def siret_error(value: str) -> str | None:
    """None when ``value`` is a valid SIRET, else a French message."""
    if len(value) != 14 or not value.isdigit():
        return "Le numéro SIRET doit comporter 14 chiffres."
    if value.startswith(LA_POSTE_SIREN):
        # La Poste's establishments: the digit sum is a multiple of 5 instead of Luhn.
        if sum(int(c) for c in value) % 5 == 0:
            return None
        return "La clé de contrôle du numéro SIRET est incorrecte."
    if not luhn_is_valid(value):
        return "La clé de contrôle du numéro SIRET est incorrecte."
    return None


def is_valid_siret(value: str) -> bool:
    """True for a valid SIRET (Luhn, La Poste digit-sum rule)."""
    return siret_error(value) is None


def finess_with_key(first_eight: str) -> str:
    """A valid FINESS number from its first eight digits (data generators, tests)."""
    return first_eight + _luhn_key(first_eight)


def siren_with_key(first_eight: str) -> str:
    """A valid SIREN from its first eight digits."""
    return first_eight + _luhn_key(first_eight)


def siret_with_key(first_thirteen: str) -> str:
    """A valid SIRET from its first thirteen digits."""
    return first_thirteen + _luhn_key(first_thirteen)


def _raise_if(message: str | None) -> None:
    if message:
        raise ValidationError(message, code="invalid")


def validate_finess(value: str) -> None:
    """Django validator: a FINESS number with a correct key."""
    _raise_if(finess_error(value))


def validate_siren(value: str) -> None:
    """Django validator: a SIREN with a correct key."""
    _raise_if(siren_error(value))


def validate_siret(value: str) -> None:
    """Django validator: a SIRET with a correct key."""
    _raise_if(siret_error(value))
