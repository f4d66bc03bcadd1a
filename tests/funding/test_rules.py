"""Table-driven tests of every funding rule and threshold (funding/rules.py)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from essms_portal.identifiers import finess_with_key
from funding.money import format_euros
from funding.referential import default_referential
from funding.rules import (
    CallInput,
    CampaignParameters,
    GestionnaireInput,
    QuoteRequest,
    QuoteResult,
    Referential,
    StructureInput,
    SupportRequests,
    compute_quote,
)

# ---------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------

PARAMETERS = CampaignParameters()
REFERENTIAL = default_referential()
GESTIONNAIRE = finess_with_key("75000000")
OTHER_GESTIONNAIRE = finess_with_key("69000000")
NBSP = "\u00a0"  # before "€"
NNBSP = "\u202f"  # thousands separator


def finess(index: int, department: str = "75") -> str:
    """A valid FINESS ET number in ``department``, distinct per index."""
    if department in ("2A", "2B"):  # Corsican numbers carry no Luhn key
        return f"{department}{index:07d}"
    return finess_with_key(f"{department}{index:0{8 - len(department)}d}")


def structure(index: int = 1, **overrides: object) -> StructureInput:
    """An eligible EHPAD (category 500, item 6°) in Paris, Ségur-referenced acquisition."""
    default = StructureInput(
        finess=finess(index),
        category="500",
        department="75",
        gestionnaire=GESTIONNAIRE,
        project="acquisition",
        segur_referenced=True,
        eligible_share=Decimal(1),
    )
    return replace(default, **overrides)


def structures(count: int, *, department: str = "75", start: int = 1) -> list[StructureInput]:
    """``count`` eligible ESSMS of one département."""
    return [
        structure(i, finess=finess(i, department), department=department)
        for i in range(start, start + count)
    ]


def request(
    items: list[StructureInput],
    *,
    scope: str = "regional",
    region: str | None = "11",
    year: int = 2023,
    gestionnaires: tuple[GestionnaireInput, ...] | None = None,
    requests: SupportRequests | None = None,
    already_funded: frozenset[str] = frozenset(),
) -> QuoteRequest:
    """A quote request; by default one small gestionnaire running every listed ESSMS."""
    return QuoteRequest(
        call=CallInput(scope=scope, region=region, year=year),
        gestionnaires=gestionnaires or (GestionnaireInput(GESTIONNAIRE, 10),),
        structures=tuple(items),
        requests=requests or SupportRequests(),
        already_funded=already_funded,
    )


def quote(
    req: QuoteRequest,
    parameters: CampaignParameters = PARAMETERS,
    referential: Referential = REFERENTIAL,
) -> QuoteResult:
    return compute_quote(req, parameters=parameters, referential=referential)


def error_codes(result: QuoteResult) -> set[str]:
    return {issue.code for issue in result.errors}


def warning_codes(result: QuoteResult) -> set[str]:
    return {issue.code for issue in result.warnings}


def with_one(first: StructureInput, others: int = 14) -> list[StructureInput]:
    """``first`` followed by enough eligible Paris ESSMS to make a valid regional grappe."""
    return [first, *structures(others, start=2)]


# ---------------------------------------------------------------------------------------------
# Grappe size and region
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (14, {"GRAPPE_TOO_SMALL"}),
        (15, set()),
        (49, set()),
        (50, {"GRAPPE_TOO_LARGE"}),
    ],
)
def test_regional_call_size_thresholds(count, expected):
    result = quote(request(structures(count)))
    assert error_codes(result) == expected
    assert result.essms_count == count
    assert result.eligible is (not expected)


def test_too_large_regional_grappe_is_told_to_answer_the_national_call():
    message = quote(request(structures(50))).errors[0].message
    assert "appel national" in message
    assert "50 ESSMS" in message


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (49, {"GRAPPE_TOO_SMALL"}),
        (50, set()),
        (120, set()),
    ],
)
def test_national_call_size_thresholds(count, expected):
    result = quote(request(structures(count), scope="national", region=None))
    assert error_codes(result) == expected


@pytest.mark.parametrize(
    ("department", "region", "count", "expected"),
    [
        ("2A", "94", 7, {"GRAPPE_TOO_SMALL"}),
        ("2A", "94", 8, set()),
        ("2B", "94", 8, set()),
        ("971", "01", 7, {"GRAPPE_TOO_SMALL"}),
        ("971", "01", 8, set()),
        ("974", "04", 8, set()),
        ("976", "06", 7, {"GRAPPE_TOO_SMALL"}),
        ("976", "06", 8, set()),
        ("75", "11", 8, {"GRAPPE_TOO_SMALL"}),  # the reduced minimum is not for mainland
        ("971", "01", 50, {"GRAPPE_TOO_LARGE"}),  # the regional maximum applies everywhere
    ],
)
def test_reduced_minimum_in_corsica_and_overseas(department, region, count, expected):
    items = structures(count, department=department)
    assert error_codes(quote(request(items, region=region))) == expected


def test_reduced_minimum_message_names_the_region():
    result = quote(request(structures(7, department="2A"), region="94"))
    assert "Corse" in result.errors[0].message
    assert "au moins 8 ESSMS" in result.errors[0].message


def test_national_call_has_no_reduced_minimum():
    result = quote(request(structures(8, department="971"), scope="national", region=None))
    assert error_codes(result) == {"GRAPPE_TOO_SMALL"}


def test_grappe_region_is_the_region_of_most_essms():
    items = structures(9, department="75") + structures(6, department="69", start=100)
    result = quote(request(items, region="11"))
    assert result.grappe_region == "11"
    assert result.eligible
    assert [line.region for line in result.structures] == ["11"] * 9 + ["84"] * 6


def test_wrong_region_names_both_regions():
    items = structures(9, department="75") + structures(6, department="69", start=100)
    result = quote(request(items, region="84"))
    assert error_codes(result) == {"WRONG_REGION"}
    message = result.errors[0].message
    assert "Île-de-France" in message
    assert "Auvergne-Rhône-Alpes" in message


@pytest.mark.parametrize(
    ("first", "second", "expected_region"),
    [
        ("69", "75", "84"),
        ("75", "69", "11"),
    ],
)
def test_region_tie_goes_to_the_region_listed_first(first, second, expected_region):
    items = structures(8, department=first) + structures(8, department=second, start=100)
    result = quote(request(items, region=expected_region))
    assert result.grappe_region == expected_region
    assert result.eligible
    other = "11" if expected_region == "84" else "84"
    assert error_codes(quote(request(items, region=other))) == {"WRONG_REGION"}


def test_tie_is_decided_by_first_structure_not_by_region_code_or_last_position():
    # 84 appears first, 11 overtakes temporarily, they end tied: 84 wins.
    items = [
        *structures(1, department="69", start=100),
        *structures(3, department="75"),
        *structures(2, department="69", start=200),
    ]
    assert quote(request(items)).grappe_region == "84"


def test_essms_outside_any_ars_region_do_not_count_for_the_region():
    # 975 (Saint-Pierre-et-Miquelon) has no ARS: 6 ESSMS there, 5 in Paris → Île-de-France.
    items = structures(6, department="975") + structures(5, department="75", start=100)
    assert quote(request(items)).grappe_region == "11"


def test_regional_call_with_no_essms_in_an_ars_region_is_wrong_region():
    result = quote(request(structures(15, department="975"), region="11"))
    assert result.grappe_region is None
    assert error_codes(result) == {"WRONG_REGION"}
    assert "Aucun ESSMS" in result.errors[0].message


def test_national_call_has_no_region_check():
    items = structures(20, department="75") + structures(30, department="69", start=100)
    result = quote(request(items, scope="national", region=None))
    assert result.eligible
    assert result.grappe_region == "84"


def test_messages_fall_back_to_region_codes_without_names():
    bare = Referential(
        departments=REFERENTIAL.departments,
        categories=REFERENTIAL.categories,
        reduced_minimum_regions=REFERENTIAL.reduced_minimum_regions,
    )
    result = quote(request(structures(15, department="69"), region="11"), referential=bare)
    assert "région 84" in result.errors[0].message


# ---------------------------------------------------------------------------------------------
# ESSMS lines: forfaits and eligible share
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project", "share", "amount", "expected"),
    [
        ("acquisition", Decimal(1), 25_000, set()),
        ("acquisition", Decimal("0.6"), 15_000, set()),
        ("acquisition", Decimal("0.3333333333"), 8_333, set()),
        ("acquisition", Decimal(1) / Decimal(3), 8_333, set()),
        ("upgrade", Decimal(1) / Decimal(3), 3_333, set()),
        ("upgrade", Decimal("0.6"), 6_000, set()),
        ("acquisition", Decimal("0.99996"), 24_999, set()),
        # 40 nines: a 28-digit product would round up to 25 000; the floor is exact.
        ("acquisition", Decimal("0." + "9" * 40), 24_999, set()),
        ("acquisition", Decimal("0.00001"), 0, set()),
        ("acquisition", Decimal(0), 0, {"INVALID_SHARE"}),
        ("acquisition", Decimal("1.2"), 0, {"INVALID_SHARE"}),
        ("acquisition", Decimal("-0.5"), 0, {"INVALID_SHARE"}),
        ("acquisition", Decimal("NaN"), 0, {"INVALID_SHARE"}),
        ("acquisition", Decimal("Infinity"), 0, {"INVALID_SHARE"}),
    ],
)
def test_eligible_share_is_applied_and_rounded_down(project, share, amount, expected):
    items = with_one(structure(1, eligible_share=share, category="354", project=project))
    result = quote(request(items))
    line = result.structures[0]
    assert line.amount == amount
    assert isinstance(line.amount, int)
    assert line.eligible_share.compare_total(share) == 0  # the share as given, NaN included
    assert error_codes(result) == expected


def test_upgrade_and_acquisition_forfaits_in_a_mixed_grappe():
    items = with_one(structure(1, project="upgrade"))
    result = quote(request(items))
    assert (result.structures[0].base_amount, result.structures[0].amount) == (10_000, 10_000)
    assert (result.structures[1].base_amount, result.structures[1].amount) == (25_000, 25_000)
    assert result.total == 10_000 + 14 * 25_000


# ---------------------------------------------------------------------------------------------
# ESSMS errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"finess": "750000001"}, "FINESS_INVALID", "clé de contrôle"),
        ({"finess": "75000001"}, "FINESS_INVALID", "9 caractères"),
        ({"finess": "7500000A1"}, "FINESS_INVALID", "chiffres"),
        ({"category": "355"}, "CATEGORY_NOT_ELIGIBLE", "L312-1"),  # centre hospitalier
        ({"category": "362"}, "CATEGORY_NOT_ELIGIBLE", "L312-1"),  # USLD
        ({"category": "999"}, "CATEGORY_NOT_ELIGIBLE", "inconnue"),
        ({"department": "00"}, "UNKNOWN_DEPARTMENT", "« 00 »"),
        ({"department": "9A"}, "UNKNOWN_DEPARTMENT", "INSEE"),  # etalab code, not INSEE
        ({"gestionnaire": OTHER_GESTIONNAIRE}, "UNKNOWN_GESTIONNAIRE", OTHER_GESTIONNAIRE),
        ({"segur_referenced": False}, "SEGUR_REQUIRED", "Ségur"),
        ({"project": "rental"}, "INVALID_PROJECT", "« rental »"),
        ({"eligible_share": Decimal("1.5")}, "INVALID_SHARE", "1,5"),
    ],
)
def test_structure_errors_block_and_zero_the_line(overrides, code, fragment):
    items = with_one(structure(1, **overrides))
    result = quote(request(items))
    assert not result.eligible
    assert error_codes(result) == {code}
    error = result.errors[0]
    assert error.finess == items[0].finess
    assert fragment in error.message
    line = result.structures[0]
    assert (line.amount, line.eligible) == (0, False)
    assert all(other.eligible for other in result.structures[1:])


def test_a_line_in_error_still_shows_its_forfait():
    items = with_one(structure(1, project="upgrade", category="355"))
    line = quote(request(items)).structures[0]
    assert (line.base_amount, line.amount, line.casf_item) == (10_000, 0, None)


def test_unknown_project_has_no_forfait():
    assert quote(request(with_one(structure(1, project="rental")))).structures[0].base_amount == 0


def test_corsican_finess_is_accepted_without_key():
    result = quote(request(structures(8, department="2B"), region="94"))
    assert result.eligible


def test_duplicate_structure_is_counted_and_funded_once():
    items = [*structures(15), structure(3)]
    result = quote(request(items))
    assert error_codes(result) == {"DUPLICATE_STRUCTURE"}
    assert [e.finess for e in result.errors] == [finess(3)]
    assert result.essms_count == 15
    assert [line.amount for line in result.structures] == [25_000] * 15 + [0]
    assert result.structures[2].eligible  # the first occurrence keeps its amount


def test_duplicates_do_not_make_up_the_minimum():
    items = [*structures(14), structure(1)]
    result = quote(request(items))
    assert error_codes(result) == {"DUPLICATE_STRUCTURE", "GRAPPE_TOO_SMALL"}
    assert result.essms_count == 14


def test_already_funded_structure():
    items = structures(15)
    result = quote(request(items, already_funded=frozenset({items[3].finess})))
    assert error_codes(result) == {"ALREADY_FUNDED"}
    assert result.errors[0].finess == items[3].finess
    assert result.structures[3].amount == 0


def test_several_errors_of_one_structure_are_all_reported():
    items = with_one(structure(1, project="rental", eligible_share=Decimal(2)))
    assert error_codes(quote(request(items))) == {"INVALID_PROJECT", "INVALID_SHARE"}


@pytest.mark.parametrize(
    ("year", "category", "referenced", "blocked"),
    [
        (2022, "500", False, False),  # before the Ségur requirement
        (2023, "500", False, True),
        (2024, "500", False, True),
        (2023, "500", True, False),
        (2023, "214", False, False),  # 8° AHI: exempt
        (2023, "442", False, False),  # 8° AHI: exempt
        (2023, "340", False, False),  # 14° MJPM: exempt
        (2023, "344", False, False),  # 15° DPF: exempt
        (2023, "257", False, True),  # 10° FJT: not exempt
        (2023, "354", False, True),  # 6°/7° home care: not exempt
    ],
)
def test_segur_requirement_from_2023_with_exemptions(year, category, referenced, blocked):
    items = with_one(structure(1, segur_referenced=referenced, category=category))
    result = quote(request(items, year=year))
    assert error_codes(result) == ({"SEGUR_REQUIRED"} if blocked else set())


def test_non_essms_category_is_not_also_reported_for_segur():
    items = with_one(structure(1, segur_referenced=False, category="355"))
    assert error_codes(quote(request(items))) == {"CATEGORY_NOT_ELIGIBLE"}


def test_segur_year_and_exemptions_are_parameters():
    parameters = replace(PARAMETERS, segur_required_from_year=2025, segur_exempt_items=frozenset())
    items = with_one(structure(1, segur_referenced=False, category="214"))
    assert quote(request(items, year=2024), parameters).eligible
    assert not quote(request(items, year=2025), parameters).eligible


# ---------------------------------------------------------------------------------------------
# Supports
# ---------------------------------------------------------------------------------------------


def small(essms_count: int = 14) -> tuple[GestionnaireInput, ...]:
    return (GestionnaireInput(GESTIONNAIRE, essms_count),)


@pytest.mark.parametrize(
    ("essms_count", "requested", "granted", "errors", "warnings"),
    [
        (14, 18_000, 18_000, set(), set()),
        (1, 20_000, 20_000, set(), set()),
        (14, 20_001, 20_000, set(), {"CAPPED"}),
        (14, 0, 0, set(), set()),
        (15, 18_000, 0, set(), {"HARDWARE_NOT_ELIGIBLE"}),
        (200, 50_000, 0, set(), {"HARDWARE_NOT_ELIGIBLE"}),
        (14, -1, 0, {"NEGATIVE_REQUEST"}, set()),
        (15, -1, 0, {"NEGATIVE_REQUEST"}, set()),
    ],
)
def test_hardware_support_per_small_gestionnaire(essms_count, requested, granted, errors, warnings):
    req = request(
        structures(15),
        gestionnaires=small(essms_count),
        requests=SupportRequests(hardware={GESTIONNAIRE: requested}),
    )
    result = quote(req)
    assert result.supports.hardware == granted
    assert result.supports.hardware_by_gestionnaire == {GESTIONNAIRE: granted}
    assert error_codes(result) == errors
    assert warning_codes(result) == warnings
    assert all(issue.finess == GESTIONNAIRE for issue in result.errors + result.warnings)


def test_hardware_is_granted_per_gestionnaire():
    gestionnaires = (GestionnaireInput(GESTIONNAIRE, 5), GestionnaireInput(OTHER_GESTIONNAIRE, 9))
    items = structures(8) + [structure(i, gestionnaire=OTHER_GESTIONNAIRE) for i in range(100, 107)]
    req = request(
        items,
        gestionnaires=gestionnaires,
        requests=SupportRequests(hardware={GESTIONNAIRE: 30_000, OTHER_GESTIONNAIRE: 12_000}),
    )
    result = quote(req)
    assert result.supports.hardware_by_gestionnaire == {
        GESTIONNAIRE: 20_000,
        OTHER_GESTIONNAIRE: 12_000,
    }
    assert result.supports.hardware == 32_000
    assert result.eligible  # a capped request is a warning, never a blocking error


def test_hardware_for_a_gestionnaire_outside_the_grappe():
    req = request(structures(15), requests=SupportRequests(hardware={OTHER_GESTIONNAIRE: 10_000}))
    result = quote(req)
    assert error_codes(result) == {"UNKNOWN_GESTIONNAIRE"}
    assert result.errors[0].finess == OTHER_GESTIONNAIRE
    assert result.supports.hardware == 0


def test_hardware_not_eligible_message_gives_the_threshold():
    req = request(
        structures(15),
        gestionnaires=small(20),
        requests=SupportRequests(hardware={GESTIONNAIRE: 5_000}),
    )
    message = quote(req).warnings[0].message
    assert "moins de 15 ESSMS" in message
    assert "en gère 20" in message


@pytest.mark.parametrize(
    ("procurement", "steering", "granted", "errors", "warnings"),
    [
        (15_000, 100_000, (15_000, 100_000), set(), set()),
        (0, 0, (0, 0), set(), set()),
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
    assert error_codes(result) == errors
    assert warning_codes(result) == warnings
    assert all(issue.finess is None for issue in result.errors + result.warnings)


def test_capped_warning_says_what_was_requested_and_granted():
    result = quote(request(structures(15), requests=SupportRequests(steering=150_000)))
    message = result.warnings[0].message
    assert f"150{NNBSP}000{NBSP}€" in message
    assert f"100{NNBSP}000{NBSP}€" in message
    assert result.eligible


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, f"0{NBSP}€"),
        (999, f"999{NBSP}€"),
        (25_000, f"25{NNBSP}000{NBSP}€"),
        (1_234_567, f"1{NNBSP}234{NNBSP}567{NBSP}€"),
    ],
)
def test_euros_are_written_the_french_way(amount, text):
    assert format_euros(amount) == text


# ---------------------------------------------------------------------------------------------
# Total and tranches
# ---------------------------------------------------------------------------------------------


def test_total_is_lines_plus_supports():
    req = request(
        with_one(structure(1, project="upgrade")),
        requests=SupportRequests(
            hardware={GESTIONNAIRE: 18_000}, procurement=15_000, steering=50_000
        ),
    )
    result = quote(req)
    assert result.total == 10_000 + 14 * 25_000 + 18_000 + 15_000 + 50_000


def test_tranches_with_an_odd_total():
    items = with_one(structure(1, eligible_share=Decimal("0.33333"), category="354"))
    result = quote(request(items, requests=SupportRequests(procurement=2)))
    assert result.total == 8_333 + 14 * 25_000 + 2  # 358 335: odd
    first, second = result.tranches
    assert first.amount == result.total // 2 == 179_167
    assert second.amount == 179_168
    assert first.label == "Première tranche — signature de la convention"
    assert second.label == "Seconde tranche — atteinte des cibles d'usage"


def test_an_ineligible_quote_still_shows_its_amounts():
    result = quote(request(structures(14)))
    assert not result.eligible
    assert result.total == 14 * 25_000
    assert sum(t.amount for t in result.tranches) == result.total


def test_campaign_parameters_change_the_figures_not_the_code():
    parameters = replace(
        PARAMETERS,
        acquisition_amount=30_000,
        regional_min_essms=10,
        first_tranche_percent=40,
    )
    result = quote(request(structures(10)), parameters)
    assert result.eligible
    assert result.total == 300_000
    assert [t.amount for t in result.tranches] == [120_000, 180_000]


@pytest.mark.parametrize(
    "overrides",
    [{"hardware_cap": -1}, {"first_tranche_percent": 101}, {"regional_min_essms": -3}],
)
def test_impossible_campaign_parameters_are_refused(overrides):
    with pytest.raises(ValueError, match="CampaignParameters"):
        replace(PARAMETERS, **overrides)


def test_default_parameters_are_the_domain_figures():
    domain = CampaignParameters(
        acquisition_amount=25_000,
        upgrade_amount=10_000,
        hardware_cap=20_000,
        small_gestionnaire_max_essms=14,
        procurement_cap=15_000,
        steering_cap=100_000,
        regional_min_essms=15,
        regional_max_essms=49,
        reduced_min_essms=8,
        national_min_essms=50,
        segur_required_from_year=2023,
        segur_exempt_items=frozenset({"8°", "14°", "15°"}),
        first_tranche_percent=50,
    )
    assert domain == PARAMETERS


def test_default_referential_reduced_minimum_regions():
    assert REFERENTIAL.reduced_minimum_regions == {"94", "01", "02", "03", "04", "06"}
    assert REFERENTIAL.departments["975"] is None
    assert REFERENTIAL.departments["2A"] == "94"
    assert REFERENTIAL.categories["500"] == "6°"
