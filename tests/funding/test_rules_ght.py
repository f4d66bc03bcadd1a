"""The GHT exception (seed 000, domain.md §5b): an ESSMS attached to a GHT may use a DUI referenced
in the Ségur hospital corridor; the quote says so with its own code (GHT_HOSPITAL_CORRIDOR)."""

from __future__ import annotations

import re

import pytest

from funding.quote_input import QuoteInputError, quote_request_from_data
from funding.referential import default_region_codes
from funding.rules import SupportRequests
from tests.funding.test_rules import quote, request, structure, warning_codes, with_one

GHT = "GHT Paris Psychiatrie & Neurosciences"
REGIONS = default_region_codes()


@pytest.mark.parametrize(
    ("year", "category", "medico_social", "hospital", "ght", "errors", "warnings"),
    [
        # The exception: a GHT member with a hospital-corridor solution.
        (2023, "500", False, True, GHT, set(), {"GHT_HOSPITAL_CORRIDOR"}),
        # Not a GHT member: the hospital corridor is not enough.
        (2023, "500", False, True, "", {"SEGUR_REQUIRED"}, set()),
        # A GHT member without a hospital-corridor solution: still required.
        (2023, "500", False, False, GHT, {"SEGUR_REQUIRED"}, set()),
        # Referenced in the medico-social corridor: no exception needed, nothing said.
        (2023, "500", True, True, GHT, set(), set()),
        (2023, "500", True, False, GHT, set(), set()),
        # Before the Ségur year, or an exempt item (8° AHI): no requirement, nothing to explain.
        (2022, "500", False, True, GHT, set(), set()),
        (2023, "214", False, True, GHT, set(), set()),
        # Not an ESSMS: the category error alone, no explanation of an exception.
        (2023, "355", False, True, GHT, {"CATEGORY_NOT_ELIGIBLE"}, set()),
    ],
)
def test_ght_exception(year, category, medico_social, hospital, ght, errors, warnings):
    first = structure(
        1,
        category=category,
        segur_referenced=medico_social,
        segur_hospital_referenced=hospital,
        ght=ght,
    )
    result = quote(request(with_one(first), year=year))
    assert {issue.code for issue in result.errors} == errors
    assert warning_codes(result) == warnings
    assert result.structures[0].eligible is (not errors)


def test_the_exception_funds_the_line_and_names_the_ght():
    first = structure(1, segur_referenced=False, segur_hospital_referenced=True, ght=GHT)
    result = quote(request(with_one(first)))
    assert result.eligible
    assert result.structures[0].amount == 25_000
    (warning,) = result.warnings
    assert warning.finess == first.finess
    assert f"rattaché au groupement hospitalier de territoire « {GHT} »" in warning.message
    assert "couloir hospitalier" in warning.message
    assert "exigences médico-sociales" in warning.message


def test_a_repeated_essms_explains_the_exception_once():
    first = structure(1, segur_referenced=False, segur_hospital_referenced=True, ght=GHT)
    items = [first, *with_one(first)[0:15]]
    result = quote(request(items))
    assert [w.code for w in result.warnings] == ["GHT_HOSPITAL_CORRIDOR"]


def test_structure_warnings_come_before_support_warnings():
    first = structure(1, segur_referenced=False, segur_hospital_referenced=True, ght=GHT)
    result = quote(request(with_one(first), requests=SupportRequests(steering=150_000)))
    assert [w.code for w in result.warnings] == ["GHT_HOSPITAL_CORRIDOR", "CAPPED"]


# --- The JSON contract of the simulator ------------------------------------------------------

STRUCTURE = {
    "finess": "010000024",
    "category": "500",
    "department": "75",
    "gestionnaire": "010000016",
    "project": "acquisition",
}


def _input(**extra: object) -> dict[str, object]:
    return {
        "call": {"scope": "national", "year": 2023},
        "gestionnaires": [{"finess": "010000016", "essms_count": 1}],
        "structures": [{**STRUCTURE, **extra}],
    }


def test_the_json_input_carries_the_corridor_and_the_ght():
    parsed = quote_request_from_data(
        _input(segur_hospital_referenced=True, ght=f"  {GHT} "), regions=REGIONS
    )
    assert parsed.structures[0].segur_hospital_referenced is True
    assert parsed.structures[0].ght == GHT
    default = quote_request_from_data(_input(), regions=REGIONS)
    assert default.structures[0].segur_hospital_referenced is False
    assert default.structures[0].ght == ""


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"segur_hospital_referenced": "yes"}, "structures[0].segur_hospital_referenced"),
        ({"ght": True}, "structures[0].ght"),
    ],
)
def test_a_wrong_type_is_a_shape_error(extra, path):
    with pytest.raises(QuoteInputError, match=re.escape(path)):
        quote_request_from_data(_input(**extra), regions=REGIONS)
