"""The funding_quote JSON contract: shape checks in, result shape out (funding/quote_input.py)."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal

import pytest

from funding.quote_input import (
    QuoteInputError,
    parse_quote_input,
    quote_request_from_data,
    result_to_json,
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
    "already_funded": [],
}
DELETE = object()


def variant(path: list[str | int], value: object) -> str:
    """The valid input as JSON text with the value at ``path`` replaced (or deleted)."""
    data = copy.deepcopy(VALID)
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    if value is DELETE:
        del target[path[-1]]  # type: ignore[attr-defined]
    else:
        target[path[-1]] = value  # type: ignore[index]
    return json.dumps(data, default=str)


def parse(text: str):
    return parse_quote_input(text, regions=REGIONS)


def test_valid_input_parses():
    parsed = parse(json.dumps(VALID))
    assert parsed.call.scope == "regional"
    assert parsed.call.region == "11"
    assert parsed.call.year == 2023
    assert parsed.gestionnaires[0].essms_count == 4
    assert parsed.structures[0].eligible_share == Decimal("0.6")
    assert parsed.structures[0].segur_referenced is True
    assert parsed.requests.hardware == {"010000016": 18000}
    assert (parsed.requests.procurement, parsed.requests.steering) == (15000, 50000)
    assert parsed.already_funded == frozenset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"0.6"', Decimal("0.6")),
        ("0.1", Decimal("0.1")),  # a JSON number is read as Decimal, never as a float
        ("1", Decimal(1)),
        ('" 0.5 "', Decimal("0.5")),
        ('"1e-1"', Decimal("0.1")),
        ('"1.2"', Decimal("1.2")),  # a wrong value, not a wrong shape: the rules report it
    ],
)
def test_share_is_read_as_decimal(raw, expected):
    text = variant(["structures", 0, "eligible_share"], "PLACEHOLDER").replace('"PLACEHOLDER"', raw)
    share = parse(text).structures[0].eligible_share
    assert share == expected
    assert isinstance(share, Decimal)


def test_optional_keys_take_their_defaults():
    data = json.loads(json.dumps(VALID))
    del data["requests"], data["already_funded"]
    del data["structures"][0]["segur_referenced"], data["structures"][0]["eligible_share"]
    parsed = parse(json.dumps(data))
    assert parsed.requests.hardware == {}
    assert (parsed.requests.procurement, parsed.requests.steering) == (0, 0)
    assert parsed.already_funded == frozenset()
    assert parsed.structures[0].segur_referenced is False
    assert parsed.structures[0].eligible_share == Decimal(1)


def test_national_call_needs_no_region():
    parsed = parse(variant(["call"], {"scope": "national", "year": 2023}))
    assert (parsed.call.scope, parsed.call.region) == ("national", None)


def test_only_surrounding_spaces_are_normalised():
    parsed = parse(variant(["structures", 0, "department"], " 2a "))
    assert parsed.structures[0].department == "2a"  # not uppercased: the rules will say why


def test_wrong_values_are_not_shape_errors():
    text = variant(
        ["structures", 0],
        {
            "finess": "123456789",
            "category": "999",
            "department": "00",
            "gestionnaire": "nobody",
            "project": "rental",
            "eligible_share": "-1",
        },
    )
    parsed = parse(text)
    result = compute_quote(
        parsed, parameters=CampaignParameters(), referential=default_referential()
    )
    assert {e.code for e in result.errors} >= {
        "FINESS_INVALID",
        "CATEGORY_NOT_ELIGIBLE",
        "UNKNOWN_DEPARTMENT",
        "UNKNOWN_GESTIONNAIRE",
        "INVALID_PROJECT",
        "INVALID_SHARE",
    }


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[1, 2]", "entrée : doit être un objet"),
        ('"call"', "entrée : doit être un objet"),
        ("{not json", "entrée : ce n'est pas du JSON valide"),
        ("", "entrée : ce n'est pas du JSON valide"),
        ("[" * 100_000, "entrée"),
        ('{"year": ' + "1" * 5_000 + "}", "entrée"),
        (variant(["call"], DELETE), "entrée.call : champ obligatoire manquant"),
        (variant(["unexpected"], 1), "entrée.unexpected : champ inconnu"),
        (variant(["call", "scope"], "local"), "call.scope"),
        (variant(["call", "scope"], None), "call.scope"),
        (variant(["call", "region"], "99"), "call.region"),
        (variant(["call", "region"], DELETE), "call.region : obligatoire"),
        (variant(["call", "region"], 11), "call.region : doit être une chaîne"),
        (variant(["call", "year"], "2023"), "call.year : doit être un nombre entier"),
        (variant(["call", "year"], 2023.0), "call.year"),
        (variant(["call", "year"], True), "call.year"),
        (variant(["call", "colour"], "blue"), "call.colour : champ inconnu"),
        (variant(["gestionnaires"], {"a": 1}), "gestionnaires : doit être une liste"),
        (variant(["gestionnaires", 0], "010000016"), "gestionnaires[0] : doit être un objet"),
        (variant(["gestionnaires", 0, "essms_count"], "4"), "gestionnaires[0].essms_count"),
        (variant(["gestionnaires", 0, "finess"], 10000016), "gestionnaires[0].finess"),
        (variant(["structures"], {"a": 1}), "structures : doit être une liste"),
        (variant(["structures", 0, "finess"], 10000024), "structures[0].finess"),
        (variant(["structures", 0, "category"], 500), "structures[0].category"),
        (variant(["structures", 0, "department"], 75), "structures[0].department"),
        (variant(["structures", 0, "gestionnaire"], None), "structures[0].gestionnaire"),
        (variant(["structures", 0, "project"], ["acquisition"]), "structures[0].project"),
        (variant(["structures", 0, "project"], DELETE), "structures[0].project : champ obli"),
        (variant(["structures", 0, "eligible_share"], "abc"), "structures[0].eligible_share"),
        (variant(["structures", 0, "eligible_share"], "NaN"), "structures[0].eligible_share"),
        (variant(["structures", 0, "eligible_share"], "-Infinity"), "structures[0].eligible_s"),
        (variant(["structures", 0, "eligible_share"], True), "structures[0].eligible_share"),
        (variant(["structures", 0, "eligible_share"], None), "structures[0].eligible_share"),
        (variant(["structures", 0, "segur_referenced"], "yes"), "structures[0].segur_refer"),
        (variant(["structures", 0, "segur_referenced"], 1), "structures[0].segur_referenced"),
        (variant(["structures", 0, "colour"], "blue"), "structures[0].colour : champ inconnu"),
        (variant(["requests"], []), "requests : doit être un objet"),
        (variant(["requests", "procurement"], 1.5), "requests.procurement"),
        (variant(["requests", "procurement"], "15000"), "requests.procurement"),
        (variant(["requests", "steering"], True), "requests.steering"),
        (variant(["requests", "hardware"], [1]), "requests.hardware : doit être un objet"),
        (variant(["requests", "hardware", "010000016"], 1.5), "requests.hardware.010000016"),
        (variant(["requests", "travel"], 1), "requests.travel : champ inconnu"),
        (variant(["already_funded"], "010000024"), "already_funded : doit être une liste"),
        (variant(["already_funded"], [10000024]), "already_funded[0]"),
    ],
)
def test_shape_errors_name_the_path(text, path):
    with pytest.raises(QuoteInputError, match=re.escape(path)) as caught:
        parse(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"call": {}, "call": {}}', "entrée.call : champ présent deux fois"),
        (
            json.dumps(VALID).replace('"year": 2023', '"year": 2023, "year": 2024'),
            "call.year : champ présent deux fois",
        ),
        (
            json.dumps(VALID).replace(
                '{"010000016": 18000}', '{"010000016": 18000, " 010000016": 2000}'
            ),
            "requests.hardware. 010000016 : gestionnaire présent deux fois",
        ),
    ],
)
def test_repeated_keys_are_shape_errors(text, path):
    with pytest.raises(QuoteInputError, match=re.escape(path)):
        parse(text)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_refused(constant):
    for path in (["structures", 0, "eligible_share"], ["requests", "steering"]):
        text = variant(path, "PLACEHOLDER").replace('"PLACEHOLDER"', constant)
        with pytest.raises(QuoteInputError, match=re.escape(".".join(map(str, path[-1:])))):
            parse(text)


def test_decoded_data_can_be_checked_directly():
    parsed = quote_request_from_data(copy.deepcopy(VALID), regions=REGIONS)
    assert parsed.structures[0].finess == "010000024"
    with pytest.raises(QuoteInputError, match="entrée : doit être un objet"):
        quote_request_from_data([], regions=REGIONS)


def test_result_to_json_has_exactly_the_contract_keys():
    parsed = parse(json.dumps(VALID))
    result = compute_quote(
        parsed, parameters=CampaignParameters(), referential=default_referential()
    )
    output = result_to_json(result)
    assert list(output) == [
        "eligible",
        "errors",
        "warnings",
        "structures",
        "supports",
        "total",
        "tranches",
    ]
    assert output["eligible"] is False  # one ESSMS: the grappe is too small
    assert output["errors"] == [
        {
            "code": "GRAPPE_TOO_SMALL",
            "message": "Une grappe doit compter au moins 15 ESSMS ; celle-ci en compte 1.",
            "finess": None,
        }
    ]
    assert output["warnings"] == []
    assert output["structures"] == [
        {
            "finess": "010000024",
            "amount": 15_000,
            "base_amount": 25_000,
            "project": "acquisition",
            "category": "500",
            "casf_item": "6°",
            "region": "11",
            "eligible_share": "0.6",
            "eligible": True,
        }
    ]
    assert output["supports"] == {"hardware": 18_000, "procurement": 15_000, "steering": 50_000}
    assert output["total"] == 98_000
    assert output["tranches"] == [
        {"label": "Première tranche — signature de la convention", "amount": 49_000},
        {"label": "Seconde tranche — atteinte des cibles d'usage", "amount": 49_000},
    ]
    json.dumps(output)  # serialisable as is: no Decimal, no dataclass
