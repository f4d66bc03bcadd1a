"""Table-driven tests of every funding rule and threshold (funding/rules.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from funding.rules import CampaignParameters, GestionnaireInput, SupportRequests
from tests.funding.rules_builders import (
    GESTIONNAIRE,
    codes,
    finess,
    quote,
    request,
    structure,
    structures,
    warning_codes,
)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(14, {"GRAPPE_TOO_SMALL"}), (15, set()), (49, set()), (50, {"GRAPPE_TOO_LARGE"})],
)
def test_regional_call_size_thresholds(count, expected):
    assert codes(quote(request(structures(count)))) == expected


@pytest.mark.parametrize(
    ("count", "expected"), [(49, {"GRAPPE_TOO_SMALL"}), (50, set()), (80, set())]
)
def test_national_call_size_thresholds(count, expected):
    result = quote(request(structures(count), scope="national", region=None))
    assert codes(result) == expected


@pytest.mark.parametrize(
    ("department", "region", "count", "expected"),
    [
        ("2A", "94", 7, {"GRAPPE_TOO_SMALL"}),
        ("2A", "94", 8, set()),
        ("971", "01", 7, {"GRAPPE_TOO_SMALL"}),
        ("971", "01", 8, set()),
        ("976", "06", 8, set()),
        ("75", "11", 8, {"GRAPPE_TOO_SMALL"}),
    ],
)
def test_reduced_minimum_in_corsica_and_overseas(department, region, count, expected):
    items = structures(count, department=department)
    assert codes(quote(request(items, region=region))) == expected


def test_grappe_region_is_the_majority_region():
    items = structures(9, department="75") + structures(6, department="69", start=100)
    result = quote(request(items, region="11"))
    assert result.grappe_region == "11"
    assert codes(result) == set()
    assert codes(quote(request(items, region="84"))) == {"WRONG_REGION"}


def test_region_tie_goes_to_the_region_listed_first():
    lyon_first = structures(8, department="69", start=100) + structures(8, department="75")
    assert quote(request(lyon_first, region="84")).grappe_region == "84"
    paris_first = structures(8, department="75") + structures(8, department="69", start=100)
    assert quote(request(paris_first, region="11")).grappe_region == "11"
    assert codes(quote(request(paris_first, region="84"))) == {"WRONG_REGION"}


@pytest.mark.parametrize(
    ("share", "amount", "expected"),
    [
        (Decimal(1), 25_000, set()),
        (Decimal("0.6"), 15_000, set()),
        (Decimal("0.3333333333"), 8_333, set()),
        (Decimal("0.00001"), 0, set()),
        (Decimal(0), 0, {"INVALID_SHARE"}),
        (Decimal("1.2"), 0, {"INVALID_SHARE"}),
        (Decimal("-0.5"), 0, {"INVALID_SHARE"}),
    ],
)
def test_eligible_share_is_applied_and_rounded_down(share, amount, expected):
    items = [structure(1, eligible_share=share, category="354"), *structures(14, start=2)]
    result = quote(request(items))
    assert result.structures[0].amount == amount
    assert codes(result) == expected


def test_upgrade_forfait():
    items = [structure(1, project="upgrade"), *structures(14, start=2)]
    result = quote(request(items))
    assert result.structures[0].amount == 10_000
    assert result.structures[0].base_amount == 10_000


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"finess": "750000001"}, "FINESS_INVALID"),
        ({"finess": "75000001"}, "FINESS_INVALID"),
        ({"category": "355"}, "CATEGORY_NOT_ELIGIBLE"),
        ({"category": "999"}, "CATEGORY_NOT_ELIGIBLE"),
        ({"department": "00"}, "UNKNOWN_DEPARTMENT"),
        ({"gestionnaire": finess(999)}, "UNKNOWN_GESTIONNAIRE"),
        ({"segur_referenced": False}, "SEGUR_REQUIRED"),
        ({"project": "rental"}, "INVALID_PROJECT"),
        ({"eligible_share": Decimal("1.5")}, "INVALID_SHARE"),
    ],
)
def test_structure_errors_block_and_zero_the_line(overrides, code):
    items = [structure(1, **overrides), *structures(15, start=2)]
    result = quote(request(items))
    assert not result.eligible
    assert code in codes(result)
    error = next(e for e in result.errors if e.code == code)
    assert error.finess == items[0].finess
    assert error.message  # a French sentence for the gestionnaire
    assert result.structures[0].amount == 0


def test_duplicate_structure_is_counted_once():
    items = [*structures(15), structure(1)]
    result = quote(request(items))
    assert codes(result) == {"DUPLICATE_STRUCTURE"}
    assert result.essms_count == 15
    assert [line.amount for line in result.structures].count(0) == 1


def test_already_funded_structure():
    items = structures(15)
    result = quote(request(items, already_funded=frozenset({items[3].finess})))
    assert codes(result) == {"ALREADY_FUNDED"}
    assert result.errors[0].finess == items[3].finess


@pytest.mark.parametrize(
    ("year", "category", "blocked"),
    [
        (2022, "500", False),
        (2023, "500", True),
        (2024, "500", True),
        (2023, "214", False),  # 8° AHI exempt
        (2023, "340", False),  # 14° MJPM exempt
        (2023, "344", False),  # 15° DPF exempt
    ],
)
def test_segur_requirement_from_2023_with_exemptions(year, category, blocked):
    items = [structure(1, segur_referenced=False, category=category), *structures(14, start=2)]
    assert ("SEGUR_REQUIRED" in codes(quote(request(items, year=year)))) is blocked


SMALL = GestionnaireInput(GESTIONNAIRE, 14)
LARGE = GestionnaireInput(GESTIONNAIRE, 15)


@pytest.mark.parametrize(
    ("gestionnaire", "requested", "granted", "errors", "warnings"),
    [
        (SMALL, 18_000, 18_000, set(), set()),
        (SMALL, 20_000, 20_000, set(), set()),
        (SMALL, 20_001, 20_000, set(), {"CAPPED"}),
        (LARGE, 18_000, 0, set(), {"HARDWARE_NOT_ELIGIBLE"}),
        (SMALL, -1, 0, {"NEGATIVE_REQUEST"}, set()),
    ],
)
def test_hardware_support_per_small_gestionnaire(
    gestionnaire, requested, granted, errors, warnings
):
    req = request(
        structures(15),
        gestionnaires=(gestionnaire,),
        requests=SupportRequests(hardware={GESTIONNAIRE: requested}),
    )
    result = quote(req)
    assert result.supports.hardware == granted
    assert codes(result) == errors
    assert warning_codes(result) == warnings


def test_hardware_for_a_gestionnaire_outside_the_grappe():
    outsider = finess(888)
    req = request(structures(15), requests=SupportRequests(hardware={outsider: 10_000}))
    result = quote(req)
    assert codes(result) == {"UNKNOWN_GESTIONNAIRE"}
    assert result.errors[0].finess == outsider
    assert result.supports.hardware == 0


@pytest.mark.parametrize(
    ("procurement", "steering", "granted", "errors", "warnings"),
    [
        (15_000, 100_000, (15_000, 100_000), set(), set()),
        (15_001, 100_000, (15_000, 100_000), set(), {"CAPPED"}),
        (0, 150_000, (0, 100_000), set(), {"CAPPED"}),
        (-5, 0, (0, 0), {"NEGATIVE_REQUEST"}, set()),
        (0, -5, (0, 0), {"NEGATIVE_REQUEST"}, set()),
    ],
)
def test_grappe_supports_are_capped(procurement, steering, granted, errors, warnings):
    req = request(
        structures(15), requests=SupportRequests(procurement=procurement, steering=steering)
    )
    result = quote(req)
    assert (result.supports.procurement, result.supports.steering) == granted
    assert codes(result) == errors
    assert warning_codes(result) == warnings


def test_capped_warning_says_what_was_requested_and_granted():
    result = quote(request(structures(15), requests=SupportRequests(steering=150_000)))
    assert "150 000 €" in result.warnings[0].message
    assert "100 000 €" in result.warnings[0].message


def test_total_and_tranches_with_an_odd_total():
    items = [
        structure(1, eligible_share=Decimal("0.33333"), category="354"),
        *structures(14, start=2),
    ]
    result = quote(request(items, requests=SupportRequests(procurement=2)))
    lines = 8_333 + 14 * 25_000
    assert result.total == lines + 2
    first, second = result.tranches
    assert first.amount == result.total // 2
    assert first.amount + second.amount == result.total
    assert second.amount == first.amount + 1


def test_campaign_parameters_change_the_figures_not_the_code():
    parameters = replace(
        CampaignParameters(),
        acquisition_amount=30_000,
        regional_min_essms=10,
        first_tranche_percent=40,
    )
    result = quote(request(structures(10)), parameters)
    assert result.eligible
    assert result.total == 300_000
    assert result.tranches[0].amount == 120_000
