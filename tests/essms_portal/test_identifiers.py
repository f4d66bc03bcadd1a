"""Identifier validators (domain.md §7) on real numbers, wrong keys, wrong shapes.

Pure functions: no database, so these run with or without the Django plugin.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from essms_portal.identifiers import (
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
    validate_finess,
    validate_siren,
    validate_siret,
)

REAL_FINESS = ["010000016", "010000024", "010780054", "010780195"]
eight_digits = st.text(alphabet="0123456789", min_size=8, max_size=8)
thirteen_digits = st.text(alphabet="0123456789", min_size=13, max_size=13)


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("79927398713", True),  # the textbook Luhn example
        ("79927398710", False),
        ("0", True),
        ("", False),
        ("12a4", False),
        ("\u00b2", False),  # superscript two: str.isdigit() but not a digit 0-9
    ],
)
def test_luhn(digits, valid):
    assert luhn_is_valid(digits) is valid


@pytest.mark.parametrize("number", REAL_FINESS)
def test_real_finess_numbers_are_valid(number):
    assert finess_error(number) is None
    assert is_valid_finess(number)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("010000017", "La clé de contrôle du numéro FINESS est incorrecte"),
        ("010780050", "La clé de contrôle du numéro FINESS est incorrecte"),
        ("100000016", "La clé de contrôle du numéro FINESS est incorrecte"),  # two digits swapped
        ("01000001", "Le numéro FINESS doit comporter 9 caractères."),
        ("0100000160", "Le numéro FINESS doit comporter 9 caractères."),
        ("", "Le numéro FINESS doit comporter 9 caractères."),
        (" 01000001", "ne doit comporter que des chiffres (ou commencer par 2A ou 2B)"),
        ("01000A016", "ne doit comporter que des chiffres (ou commencer par 2A ou 2B)"),
        ("2C0000001", "ne doit comporter que des chiffres (ou commencer par 2A ou 2B)"),
        ("2a0000013", "ne doit comporter que des chiffres (ou commencer par 2A ou 2B)"),
        ("2A00000X1", "ne doit comporter que des chiffres après 2A ou 2B"),
        ("2B000 001", "ne doit comporter que des chiffres après 2A ou 2B"),
    ],
)
def test_wrong_finess_numbers_say_why_in_french(number, message):
    error = finess_error(number)
    assert error is not None
    assert message in error
    assert not is_valid_finess(number)


@pytest.mark.parametrize("number", ["2A0000013", "2B0001234", "2A0000010", "2B0000000"])
def test_corsican_finess_is_accepted_without_key_check(number):
    assert is_valid_finess(number)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("732829320", True),  # a real SIREN
        ("356000000", True),  # La Poste
        ("732829321", False),
        ("73282932", False),
        ("7328293200", False),
        ("abcdefghi", False),
        ("", False),
    ],
)
def test_siren(number, valid):
    assert is_valid_siren(number) is valid
    assert (siren_error(number) is None) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("73282932000074", True),  # a real SIRET (Luhn)
        ("73282932000075", False),
        ("73282932000072", False),  # digit sum 45, but not La Poste: Luhn applies
        ("35600000000048", True),  # La Poste head office: Luhn-valid, digit sum 26
        ("35600000049837", True),  # La Poste: not Luhn-valid, digit sum 45
        ("35600000049838", False),  # La Poste: digit sum 46, not Luhn-valid either
        ("35600000000049", False),
        ("7328293200007", False),
        ("732829320000745", False),
        ("7328293200007A", False),
    ],
)
def test_siret_with_the_la_poste_exception(number, valid):
    assert is_valid_siret(number) is valid
    assert (siret_error(number) is None) is valid


@pytest.mark.parametrize(
    ("validator", "value", "message"),
    [
        (validate_finess, "010000017", "La clé de contrôle du numéro FINESS est incorrecte"),
        (validate_siren, "732829321", "La clé de contrôle du numéro SIREN est incorrecte"),
        (validate_siret, "7328293200007", "Le numéro SIRET doit comporter 14 chiffres."),
    ],
)
def test_django_validators_raise_a_french_message_with_code_invalid(validator, value, message):
    with pytest.raises(ValidationError) as caught:
        validator(value)
    assert caught.value.code == "invalid"
    assert message in caught.value.messages[0]


@pytest.mark.parametrize(
    ("validator", "value"),
    [
        (validate_finess, "010780195"),
        (validate_finess, "2B0001234"),
        (validate_siren, "732829320"),
        (validate_siret, "73282932000074"),
    ],
)
def test_django_validators_accept_valid_numbers(validator, value):
    assert validator(value) is None


def test_key_helpers_give_the_real_keys():
    assert finess_with_key("01000001") == "010000016"
    assert siren_with_key("73282932") == "732829320"
    assert siret_with_key("7328293200007") == "73282932000074"


def test_key_helpers_refuse_non_digits():
    with pytest.raises(ValueError, match="not a string of digits"):
        finess_with_key("2A000001")


@given(eight_digits)
def test_generated_finess_is_valid_and_any_other_last_digit_is_not(body):
    number = finess_with_key(body)
    assert len(number) == 9
    assert is_valid_finess(number)
    for digit in "0123456789".replace(number[-1], ""):
        assert not is_valid_finess(body + digit)


@given(eight_digits)
def test_generated_siren_is_valid(body):
    assert is_valid_siren(siren_with_key(body))


@given(thirteen_digits)
def test_generated_siret_is_valid(body):
    assert is_valid_siret(siret_with_key(body))
