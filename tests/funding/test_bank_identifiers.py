"""Bank details of payment orders: IBAN (ISO 13616, mod 97) and BIC (ISO 9362) checks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from essms_portal.identifiers import validate_bic, validate_iban
from funding.identifiers import (
    IBAN_LENGTHS,
    bic_error,
    format_iban,
    iban_error,
    iban_with_key,
    is_valid_bic,
    is_valid_iban,
    normalize_bic,
    normalize_iban,
)

KEY_ERROR = "La clé de contrôle de l'IBAN est incorrecte : vérifiez l'IBAN saisi."

# Published example IBANs (banks' and registries' specimens), in their printed form.
VALID_IBANS = [
    "FR76 3000 6000 0112 3456 7890 189",
    "FR14 2004 1010 0505 0001 3M02 606",  # French account numbers may hold letters
    "DE89 3704 0044 0532 0130 00",
    "BE68 5390 0754 7034",
    "NO93 8601 1117 947",  # the shortest SEPA IBAN (15)
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",  # the longest (31)
    "GB82 WEST 1234 5698 7654 32",
    "CH93 0076 2011 6238 5295 7",
    "MC58 1122 2000 0101 2345 6789 030",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_ibans(iban):
    assert iban_error(iban) is None
    assert is_valid_iban(iban)
    validate_iban(iban)  # no ValidationError


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # Wrong check digits (one digit changed, two digits swapped, wrong key).
        ("FR76 3000 6000 0112 3456 7890 188", KEY_ERROR),
        ("FR76 3000 6000 0112 3456 7809 189", KEY_ERROR),
        ("FR77 3000 6000 0112 3456 7890 189", KEY_ERROR),
        ("DE88 3704 0044 0532 0130 00", KEY_ERROR),
        # Wrong length for the country.
        (
            "FR76 3000 6000 0112 3456 7890 18",
            "Un IBAN FR (France) comporte 27 caractères ; celui-ci en compte 26.",
        ),
        (
            "DE89 3704 0044 0532 0130 000",
            "Un IBAN DE (Allemagne) comporte 22 caractères ; celui-ci en compte 23.",
        ),
        # Not SEPA, not a country code, not the IBAN's shape.
        (
            "US64 SVBK US6S 3300 9673 8637",
            "Le code pays « US » n'est pas celui d'un pays de la zone SEPA : le versement ne"
            " peut être fait que sur un compte de la zone SEPA.",
        ),
        (
            "7630 0060 0011 2345 6789 0189",
            "L'IBAN doit commencer par le code du pays (deux lettres) suivi de deux chiffres"
            " de contrôle, par exemple FR76.",
        ),
        (
            "FRXX 3000 6000 0112 3456 7890 189",
            "L'IBAN doit commencer par le code du pays (deux lettres) suivi de deux chiffres"
            " de contrôle, par exemple FR76.",
        ),
        ("FR76-3000-6000", "L'IBAN ne doit comporter que des lettres et des chiffres."),
        (
            "FR76 3000 6000 0112 3456 7890 18É",
            "L'IBAN ne doit comporter que des lettres et des chiffres.",
        ),
        (
            "FR\u0667\u066630006000011234567890189",  # Arabic-Indic digits: isdigit() but not ASCII
            "L'IBAN ne doit comporter que des lettres et des chiffres.",
        ),
        ("   ", "Saisissez l'IBAN du compte bancaire."),
    ],
)
def test_invalid_ibans(value, message):
    assert iban_error(value) == message
    assert not is_valid_iban(value)
    with pytest.raises(ValidationError) as error:
        validate_iban(value)
    assert error.value.messages == [message]
    assert error.value.error_list[0].code == "invalid"


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("fr76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("FR76\u00a03000\u202f6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        (" de89370400440532013000 ", "DE89370400440532013000"),
    ],
)
def test_spaces_and_case_are_tolerated_and_normalised(value, normalized):
    assert normalize_iban(value) == normalized
    assert is_valid_iban(value)
    assert format_iban(value) == " ".join(normalized[i : i + 4] for i in range(0, 27, 4)).strip()


def test_format_iban_groups_by_four():
    assert format_iban("fr7630006000011234567890189") == "FR76 3000 6000 0112 3456 7890 189"


def test_the_length_table_covers_sepa_and_builds_valid_ibans():
    sepa = {"AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR"}
    sepa |= {"HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MT", "NL", "NO", "PL"}
    sepa |= {"PT", "RO", "SE", "SI", "SK", "SM", "VA", "AD", "GI"}
    assert sepa <= IBAN_LENGTHS.keys()
    for country, (length, _name) in IBAN_LENGTHS.items():
        iban = iban_with_key(country, "1" * (length - 4))
        assert is_valid_iban(iban), iban
        assert not is_valid_iban(iban[:-1] + "2")  # one digit changed: the key catches it


def test_iban_with_key_gives_the_published_key():
    assert iban_with_key("FR", "30006000011234567890189") == "FR7630006000011234567890189"
    assert iban_with_key("DE", "370400440532013000") == "DE89370400440532013000"


@pytest.mark.parametrize(
    "bic",
    ["BNPAFRPP", "BNPAFRPPXXX", "CEPAFRPP751", "DEUTDEFF500", "bnpa fr pp", "PSSTFRPPSCE"],
)
def test_valid_bics(bic):
    assert bic_error(bic) is None
    assert is_valid_bic(bic)
    validate_bic(bic)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("BNPAFRP", "Le BIC comporte 8 ou 11 caractères ; celui-ci en compte 7."),
        ("BNPAFRPPXX", "Le BIC comporte 8 ou 11 caractères ; celui-ci en compte 10."),
        ("BNPAFRPPXXXX", "Le BIC comporte 8 ou 11 caractères ; celui-ci en compte 12."),
        (
            "BNPA12PP",
            "Les 5e et 6e caractères du BIC doivent être le code du pays en lettres (par"
            " exemple FR).",
        ),
        ("BNPA-FR-PP", "Le BIC ne doit comporter que des lettres et des chiffres."),
        ("BNPAFRPPÉ", "Le BIC ne doit comporter que des lettres et des chiffres."),
        ("", "Saisissez le BIC (code SWIFT) de la banque."),
    ],
)
def test_invalid_bics(value, message):
    assert bic_error(value) == message
    assert not is_valid_bic(value)
    with pytest.raises(ValidationError) as error:
        validate_bic(value)
    assert error.value.messages == [message]


def test_normalize_bic():
    assert normalize_bic(" bnpa frpp xxx ") == "BNPAFRPPXXX"
