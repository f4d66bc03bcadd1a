"""Identifier validators on real numbers (domain.md §7) and wrong keys."""

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
    siret_with_key,
    validate_finess,
)


@pytest.mark.parametrize("number", ["010000016", "010000024", "010780054", "010780195"])
def test_real_finess_numbers_are_valid(number):
    assert is_valid_finess(number)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("010000017", "clé"),
        ("010780050", "clé"),
        ("01000001", "9 caractères"),
        ("0100000160", "9 caractères"),
        ("01000A016", "chiffres"),
        ("", "9 caractères"),
        ("2C0000001", "chiffres"),
        ("2A00000X1", "chiffres"),
    ],
)
def test_wrong_finess_numbers_say_why(number, reason):
    message = finess_error(number)
    assert message is not None
    assert reason in message


@pytest.mark.parametrize("number", ["2A0000013", "2B0001234", "2A0000010"])
def test_corsican_finess_is_accepted_without_key_check(number):
    assert is_valid_finess(number)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("732829320", True),
        ("356000000", True),
        ("732829321", False),
        ("73282932", False),
        ("abcdefghi", False),
    ],
)
def test_siren(number, valid):
    assert is_valid_siren(number) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("73282932000074", True),
        ("73282932000075", False),
        ("35600000049837", True),  # La Poste: digit sum 50, multiple of 5
        ("35600000049838", False),
        ("7328293200007", False),
    ],
)
def test_siret_with_la_poste_exception(number, valid):
    assert is_valid_siret(number) is valid


def test_django_validator_raises_a_french_message():
    with pytest.raises(ValidationError, match="clé de contrôle"):
        validate_finess("010000017")


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_generated_finess_is_valid_and_a_changed_key_is_not(body):
    number = finess_with_key(body)
    assert is_valid_finess(number)
    wrong = body + str((int(number[-1]) + 1) % 10)
    assert not is_valid_finess(wrong)


@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_generated_siret_is_valid(body):
    assert body.startswith("356000000") or is_valid_siret(siret_with_key(body))
