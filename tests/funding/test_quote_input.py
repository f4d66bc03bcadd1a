"""Shape checks of the funding_quote JSON contract."""

from __future__ import annotations

import json

import pytest

from funding.quote_input import QuoteInputError, parse_quote_input

REGIONS = frozenset({"11", "84"})
VALID = {
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


def _with(path: list[object], value: object) -> str:
    data = json.loads(json.dumps(VALID))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(data)


def test_valid_input_parses_with_decimal_share():
    parsed = parse_quote_input(json.dumps(VALID), regions=REGIONS)
    assert str(parsed.structures[0].eligible_share) == "0.6"
    assert parsed.requests.hardware == {"010000016": 18000}


def test_json_number_share_is_read_as_decimal_not_float():
    text = _with(["structures", 0, "eligible_share"], 0.1).replace(
        '"eligible_share": 0.1', '"eligible_share": 0.1'
    )
    assert str(parse_quote_input(text, regions=REGIONS).structures[0].eligible_share) == "0.1"


def test_optional_keys_can_be_left_out():
    data = {k: v for k, v in VALID.items() if k not in ("requests", "already_funded")}
    parsed = parse_quote_input(json.dumps(data), regions=REGIONS)
    assert parsed.requests.procurement == 0


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[1, 2]", "entrée"),
        ("{not json", "JSON invalide"),
        (_with(["call", "scope"], "local"), "call.scope"),
        (_with(["call", "region"], "99"), "call.region"),
        (_with(["call", "year"], "2023"), "call.year"),
        (_with(["structures", 0, "finess"], 10000024), "structures[0].finess"),
        (_with(["structures", 0, "eligible_share"], "abc"), "structures[0].eligible_share"),
        (_with(["structures", 0, "eligible_share"], "NaN"), "structures[0].eligible_share"),
        (_with(["structures", 0, "segur_referenced"], "yes"), "structures[0].segur_referenced"),
        (_with(["structures", 0, "colour"], "blue"), "structures[0].colour"),
        (_with(["structures", 0, "project"], KeyError), "structures[0].project"),
        (_with(["requests", "procurement"], 1.5), "requests.procurement"),
        (_with(["requests", "steering"], True), "requests.steering"),
        (_with(["requests", "hardware"], [1]), "requests.hardware"),
        (_with(["gestionnaires", 0, "essms_count"], "4"), "gestionnaires[0].essms_count"),
        (_with(["structures"], {"a": 1}), "structures"),
        (_with(["already_funded"], "010000024"), "already_funded"),
        (_with(["unexpected"], 1), "entrée.unexpected"),
    ],
)
def test_shape_errors_name_the_path(text, path):
    with pytest.raises(QuoteInputError, match=path.replace("[", r"\[").replace("]", r"\]")):
        parse_quote_input(text, regions=REGIONS)
