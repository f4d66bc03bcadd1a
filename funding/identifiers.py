"""The programme's identifiers: FINESS (EJ and ET), SIREN and SIRET — pure functions.

All three end with a Luhn check digit (domain.md §7). Corsican FINESS numbers (2A/2B) cannot be
Luhn-checked and are accepted on their shape. La Poste (SIREN 356000000) numbers its many
establishments outside Luhn: one of its SIRETs is valid when its digits add up to a multiple of 5.

The ``*_error`` functions return a French message for the gestionnaire (None when the number is
valid); ``*_with_key`` complete a number with its key, for data generators and tests. This module
imports nothing but the standard library, so the pure funding rules may use it; the Django
validators built on it live in ``essms_portal.identifiers``.
"""

from __future__ import annotations

LA_POSTE_SIREN = "356000000"
CORSICAN_FINESS_PREFIXES = ("2A", "2B")


def _is_ascii_digits(value: str) -> bool:
    """True for a non-empty string of 0-9 only (``str.isdigit`` also accepts superscripts)."""
    return value.isascii() and value.isdigit()


def luhn_is_valid(digits: str) -> bool:
    """True when ``digits`` is a non-empty string of 0-9 that passes the Luhn check."""
    if not _is_ascii_digits(digits):
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
    """The check digit that makes ``body + key`` Luhn-valid (``body`` must be digits)."""
    if not _is_ascii_digits(body):
        raise ValueError(f"not a string of digits: {body!r}")
    for key in "0123456789":
        if luhn_is_valid(body + key):
            return key
    raise AssertionError("unreachable: exactly one of the ten digits completes a Luhn number")


def finess_error(value: str) -> str | None:
    """None when ``value`` is a valid FINESS number, else a French message saying why."""
    if len(value) != 9:
        return "Le numéro FINESS doit comporter 9 caractères."
    if value[:2] in CORSICAN_FINESS_PREFIXES:
        # Corsican numbers carry letters, so the Luhn key cannot apply: shape check only.
        if not _is_ascii_digits(value[2:]):
            return "Le numéro FINESS ne doit comporter que des chiffres après 2A ou 2B."
        return None
    if not _is_ascii_digits(value):
        return "Le numéro FINESS ne doit comporter que des chiffres (ou commencer par 2A ou 2B)."
    if not luhn_is_valid(value):
        return "La clé de contrôle du numéro FINESS est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_finess(value: str) -> bool:
    """True for a well-formed FINESS number with a correct key (or a Corsican number)."""
    return finess_error(value) is None


def siren_error(value: str) -> str | None:
    """None when ``value`` is a valid SIREN, else a French message saying why."""
    if len(value) != 9 or not _is_ascii_digits(value):
        return "Le numéro SIREN doit comporter 9 chiffres."
    if value != LA_POSTE_SIREN and not luhn_is_valid(value):
        return "La clé de contrôle du numéro SIREN est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_siren(value: str) -> bool:
    """True for a valid SIREN (Luhn; La Poste's 356000000 always accepted)."""
    return siren_error(value) is None


def _is_la_poste_siret(value: str) -> bool:
    """True for a La Poste SIRET that follows La Poste's own rule (digit sum multiple of 5)."""
    return value.startswith(LA_POSTE_SIREN) and sum(int(c) for c in value) % 5 == 0


def siret_error(value: str) -> str | None:
    """None when ``value`` is a valid SIRET, else a French message saying why."""
    if len(value) != 14 or not _is_ascii_digits(value):
        return "Le numéro SIRET doit comporter 14 chiffres."
    # Luhn first: La Poste's head office (35600000000048) is Luhn-valid although its digit sum
    # is 26, so the La Poste rule widens the check rather than replacing it.
    if not luhn_is_valid(value) and not _is_la_poste_siret(value):
        return "La clé de contrôle du numéro SIRET est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_siret(value: str) -> bool:
    """True for a valid SIRET (Luhn, or La Poste's digit-sum rule)."""
    return siret_error(value) is None


def finess_with_key(first_eight: str) -> str:
    """A valid FINESS number from its first eight digits (data generators, tests)."""
    return first_eight + _luhn_key(first_eight)


def siren_with_key(first_eight: str) -> str:
    """A valid SIREN from its first eight digits."""
    return first_eight + _luhn_key(first_eight)


def siret_with_key(first_thirteen: str) -> str:
    """A valid SIRET from its first thirteen digits (a SIREN plus the first four NIC digits)."""
    return first_thirteen + _luhn_key(first_thirteen)
