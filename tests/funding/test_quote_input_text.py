"""Text the funding_quote contract refuses: lone surrogates and control characters (issue #10).

Every string of the contract — values and keys, at every level — is tried with each forbidden
character: it must be a shape error naming the field, whose message encodes as UTF-8; and any
input that passes the checks must give an output that encodes as UTF-8.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from funding.quote_input import (
    QuoteInputError,
    parse_quote_input,
    result_to_json,
    shown,
    text_error,
)
from funding.referential import default_referential, default_region_codes
from funding.rules import CampaignParameters, compute_quote

REGIONS = default_region_codes()
VALID: dict[str, object] = {
    "call": {"scope": "regional", "region": "11", "year": 2023},
    "gestionnaires": [{"finess": "010000016", "essms_count": 4}],
    "structures": [
        {
            "finess": "010000024",
            "category": "500",
            "department": "75",
            "gestionnaire": "010000016",
            "project": "acquisition",
            "segur_referenced": True,
            "eligible_share": "0.6",
        }
    ],
    "requests": {"hardware": {"010000016": 18000}, "procurement": 15000, "steering": 50000},
    "already_funded": ["010000032"],
}
# (path to the string in VALID, the field the message must name)
STRING_VALUES: list[tuple[list[str | int], str]] = [
    (["call", "scope"], "call.scope :"),
    (["call", "region"], "call.region :"),
    (["gestionnaires", 0, "finess"], "gestionnaires[0].finess :"),
    (["structures", 0, "finess"], "structures[0].finess :"),
    (["structures", 0, "category"], "structures[0].category :"),
    (["structures", 0, "department"], "structures[0].department :"),
    (["structures", 0, "gestionnaire"], "structures[0].gestionnaire :"),
    (["structures", 0, "project"], "structures[0].project :"),
    (["structures", 0, "eligible_share"], "structures[0].eligible_share :"),
    (["already_funded", 0], "already_funded[0] :"),
]
# (path to an object in VALID, the name its key errors give)
OBJECTS: list[tuple[list[str | int], str]] = [
    ([], "entrée :"),
    (["call"], "call :"),
    (["gestionnaires", 0], "gestionnaires[0] :"),
    (["structures", 0], "structures[0] :"),
    (["requests"], "requests :"),
    (["requests", "hardware"], "requests.hardware :"),
]
FORBIDDEN = ["\ud800", "\udfff", "\udc80", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f"]


def with_value(path: list[str | int], value: str) -> str:
    data = copy.deepcopy(VALID)
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return json.dumps(data)  # ASCII: a surrogate stays the escape "\ud800", as a user writes it


def with_key(path: list[str | int], key: str) -> str:
    data = copy.deepcopy(VALID)
    target: object = data
    for step in path:
        target = target[step]  # type: ignore[index]
    target[key] = 1  # type: ignore[index]
    return json.dumps(data)


def assert_refused(text: str, field: str, character: str) -> None:
    with pytest.raises(QuoteInputError) as caught:
        parse_quote_input(text, regions=REGIONS)
    message = str(caught.value)
    assert message.startswith(field), message
    assert f"U+{ord(character):04X}" in message
    message.encode("utf-8")  # what the command writes: never a UnicodeEncodeError
    assert message.isprintable(), message


@pytest.mark.parametrize("character", FORBIDDEN)
@pytest.mark.parametrize(("path", "field"), STRING_VALUES)
def test_a_forbidden_character_in_a_string_value_is_a_shape_error(path, field, character):
    assert_refused(with_value(path, f"01{character}0000016"), field, character)


@pytest.mark.parametrize("character", FORBIDDEN)
@pytest.mark.parametrize(("path", "field"), OBJECTS)
def test_a_forbidden_character_in_a_key_is_a_shape_error(path, field, character):
    text = with_key(path, f"clé{character}")
    assert_refused(text, field, character)
    with pytest.raises(QuoteInputError, match=re.escape(f"« clé\\u{ord(character):04x} »")):
        parse_quote_input(text, regions=REGIONS)


def test_the_key_check_comes_before_the_unknown_key_message():
    # "champ inconnu" quotes the key: it must have been checked first.
    assert_refused(with_key(["call"], "\ud800"), "call :", "\ud800")


def test_surrounding_whitespace_is_still_stripped():
    parsed = parse_quote_input(
        with_value(["structures", 0, "finess"], "\t010000024\n"), regions=REGIONS
    )
    assert parsed.structures[0].finess == "010000024"


@pytest.mark.parametrize("text", ["é", "€", "\u00a0", "\u2028", "\U0001f600", "\ufffd", "\uffff"])
def test_other_unicode_is_a_value_for_the_rules(text):
    # Valid Unicode that encodes: a wrong value at worst, reported in the quote, exit 0.
    parsed = parse_quote_input(with_value(["structures", 0, "category"], text), regions=REGIONS)
    result = compute_quote(
        parsed, parameters=CampaignParameters(), referential=default_referential()
    )
    assert "CATEGORY_NOT_ELIGIBLE" in {error.code for error in result.errors}
    json.dumps(result_to_json(result), ensure_ascii=False).encode("utf-8")


def test_every_accepted_string_encodes_in_the_output():
    # Each string of the input, in turn, set to text that passes the checks: the output encodes.
    for path, _ in STRING_VALUES:
        for value in ("x", "75 « é » €", "\U0001f600"):
            try:
                parsed = parse_quote_input(with_value(path, value), regions=REGIONS)
            except QuoteInputError as error:
                str(error).encode("utf-8")
                continue
            result = compute_quote(
                parsed, parameters=CampaignParameters(), referential=default_referential()
            )
            json.dumps(result_to_json(result), ensure_ascii=False).encode("utf-8")


def test_shown_escapes_only_forbidden_characters():
    assert shown("a\ud800b\x00c é€") == "a\\ud800b\\u0000c é€"
    assert text_error("é€\U0001f600") is None
    assert text_error("a\udfffb") is not None and "U+DFFF" in text_error("a\udfffb")  # type: ignore[operator]
