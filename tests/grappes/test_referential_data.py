"""The referential tables as data (domain.md §6, §8, §9): counts, links and spot checks.

Pure Python: no database, so these run with or without the Django plugin.
"""

from __future__ import annotations

import pytest

from grappes.referential_data import (
    CASF_ITEM_BY_CODE,
    CASF_ITEMS,
    CATEGORY_BY_CODE,
    DEPARTMENT_BY_CODE,
    DEPARTMENTS,
    ETALAB_DEPARTMENT_ALIASES,
    FINESS_CATEGORIES,
    REGION_BY_CODE,
    REGIONS,
    department_of_finess,
    normalise_department,
)

SECTION_9_ORDER = [
    "84", "27", "53", "24", "94", "44", "32", "11", "28",
    "75", "76", "52", "93", "01", "02", "03", "04", "06",
]  # fmt: skip


def test_18_regions_in_the_order_of_section_9():
    assert [region.code for region in REGIONS] == SECTION_9_ORDER
    assert len(REGION_BY_CODE) == 18


def test_reduced_grappe_minimum_for_corsica_and_overseas_only():
    reduced = {region.code for region in REGIONS if region.reduced_grappe_minimum}
    assert reduced == {"94", "01", "02", "03", "04", "06"}


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("84", "Auvergne-Rhône-Alpes"),
        ("93", "Provence-Alpes-Côte d'Azur"),
        ("11", "Île-de-France"),
        ("04", "La Réunion"),
    ],
)
def test_region_names_are_official_with_accents(code, name):
    assert REGION_BY_CODE[code].name == name


def test_101_departements_with_a_region_and_two_collectivities_without():
    assert len(DEPARTMENTS) == 103
    assert len(DEPARTMENT_BY_CODE) == 103, "duplicate département code"
    assert sum(1 for dept in DEPARTMENTS if dept.region is not None) == 101
    assert {dept.code for dept in DEPARTMENTS if dept.region is None} == {"975", "986"}


def test_96_metropolitan_departements_including_corsica():
    metropolitan = {dept.code for dept in DEPARTMENTS if len(dept.code) == 2}
    assert len(metropolitan) == 96
    assert {"2A", "2B"} <= metropolitan
    assert "20" not in metropolitan


def test_every_departement_region_exists():
    for dept in DEPARTMENTS:
        assert dept.region is None or dept.region in REGION_BY_CODE, dept


def test_every_region_has_a_departement():
    assert {dept.region for dept in DEPARTMENTS if dept.region} == set(REGION_BY_CODE)


@pytest.mark.parametrize(
    ("code", "name", "region"),
    [
        ("01", "Ain", "84"),
        ("2A", "Corse-du-Sud", "94"),
        ("2B", "Haute-Corse", "94"),
        ("75", "Paris", "11"),
        ("90", "Territoire de Belfort", "27"),
        ("971", "Guadeloupe", "01"),
        ("974", "La Réunion", "04"),
        ("976", "Mayotte", "06"),
        ("975", "Saint-Pierre-et-Miquelon", None),
        ("986", "Wallis-et-Futuna", None),
    ],
)
def test_departement_spot_checks(code, name, region):
    assert DEPARTMENT_BY_CODE[code].name == name
    assert DEPARTMENT_BY_CODE[code].region == region


def test_etalab_aliases_map_to_existing_departements():
    assert ETALAB_DEPARTMENT_ALIASES == {
        "9A": "971",
        "9B": "972",
        "9C": "973",
        "9D": "974",
        "9E": "975",
        "9F": "976",
        "9J": "986",
    }
    for target in ETALAB_DEPARTMENT_ALIASES.values():
        assert target in DEPARTMENT_BY_CODE


@pytest.mark.parametrize(
    ("raw", "code"),
    [("1", "01"), (" 9a ", "971"), ("9J", "986"), ("2b", "2B"), ("75", "75"), ("974", "974")],
)
def test_normalise_department(raw, code):
    assert normalise_department(raw) == code


@pytest.mark.parametrize(
    ("finess", "code"),
    [
        ("010000016", "01"),
        ("2A0000013", "2A"),
        ("2B0001234", "2B"),
        ("971000017", "971"),
        ("974000010", "974"),
        ("980000012", "976"),
        ("750000000", "75"),
    ],
)
def test_department_of_finess(finess, code):
    assert department_of_finess(finess) == code


def test_17_casf_items_numbered_1_to_17():
    assert [item.number for item in CASF_ITEMS] == list(range(1, 18))
    assert [item.code for item in CASF_ITEMS] == [f"{n}°" for n in range(1, 18)]
    assert len(CASF_ITEM_BY_CODE) == 17


def test_segur_exemption_for_8_14_15_only():
    assert {item.code for item in CASF_ITEMS if item.segur_exempt} == {"8°", "14°", "15°"}


def test_every_category_item_exists_and_codes_are_unique():
    assert len(CATEGORY_BY_CODE) == len(FINESS_CATEGORIES), "duplicate category code"
    for category in FINESS_CATEGORIES:
        assert category.casf_item is None or category.casf_item in CASF_ITEM_BY_CODE, category
        assert category.code.isdigit() and len(category.code) == 3, category
        assert category.label.strip(), category


def test_home_care_only_for_the_6_7_services():
    home_care = {category.code for category in FINESS_CATEGORIES if category.home_care}
    assert home_care == {"209", "354", "460"}
    assert {CATEGORY_BY_CODE[code].casf_item for code in home_care} == {"6°"}


@pytest.mark.parametrize(
    ("code", "item"),
    [
        ("500", "6°"),
        ("354", "6°"),
        ("183", "2°"),
        ("190", "3°"),
        ("214", "8°"),
        ("257", "10°"),
        ("443", "13°"),
        ("340", "14°"),
        ("344", "15°"),
        ("640", "16°"),
        ("355", None),
        ("101", None),
        ("362", None),
        ("223", None),
        ("146", None),
        ("699", None),
        ("620", None),
    ],
)
def test_section_6_mapping_spot_checks(code, item):
    assert CATEGORY_BY_CODE[code].casf_item == item


SECTION_6_ELIGIBLE = {
    "1°": ["166", "172", "175", "176", "177", "236", "241", "286", "295"],
    "2°": ["182", "183", "186", "188", "189", "192", "194", "195", "196", "390", "396", "402"],
    "3°": ["190"],
    "4°": ["440", "441"],
    "5°": ["198", "246", "249", "464"],
    "6°": ["202", "207", "500", "501", "502", "209", "354", "460"],
    "7°": ["238", "242", "252", "255", "382", "395", "437", "445", "446", "448", "449"],
    "8°": ["214", "219", "442", "444"],
    "9°": ["165", "178", "180", "197", "213"],
    "10°": ["257"],
    "11°": ["461", "463"],
    "12°": ["370", "377", "378", "379", "380", "381"],
    "13°": ["443"],
    "14°": ["340", "341", "342"],
    "15°": ["344"],
    "16°": ["640"],
}


def test_every_section_6_category_is_mapped_to_its_item():
    eligible = {code: item for item, codes in SECTION_6_ELIGIBLE.items() for code in codes}
    mapped = {row.code: row.casf_item for row in FINESS_CATEGORIES if row.casf_item is not None}
    assert mapped == eligible


def test_label_examples_from_the_finess_nomenclature():
    assert CATEGORY_BY_CODE["500"].label == (
        "Etablissement d'hébergement pour personnes âgées dépendantes"
    )
    assert CATEGORY_BY_CODE["354"].label == "Service de Soins Infirmiers A Domicile (S.S.I.A.D)"
