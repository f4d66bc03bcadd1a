"""The referential as data: regions, départements, CASF L312-1 items, FINESS categories.

Pure Python (no Django) so that the data migration, the stand-alone simulator and the tests
share one source. Facts from ``shared/docs/domain.md``: §9 (regions and their départements,
INSEE codes), §8 (etalab aliases for overseas départements), §6 (CASF items and the FINESS
category mapping, a product mapping).
"""

from __future__ import annotations

from typing import NamedTuple


class RegionRow(NamedTuple):
    code: str
    name: str
    reduced_grappe_minimum: bool


class DepartmentRow(NamedTuple):
    code: str
    name: str
    region: str | None


class CasfItemRow(NamedTuple):
    code: str
    number: int
    label: str
    segur_exempt: bool


class FinessCategoryRow(NamedTuple):
    code: str
    label: str
    casf_item: str | None
    home_care: bool


# The 18 ARS regions in the order of domain.md §9 (Corse and overseas: reduced grappe minimum).
REGIONS: tuple[RegionRow, ...] = (
    RegionRow("84", "Auvergne-Rhône-Alpes", False),
    RegionRow("27", "Bourgogne-Franche-Comté", False),
    RegionRow("53", "Bretagne", False),
    RegionRow("24", "Centre-Val de Loire", False),
    RegionRow("94", "Corse", True),
    RegionRow("44", "Grand Est", False),
    RegionRow("32", "Hauts-de-France", False),
    RegionRow("11", "Île-de-France", False),
    RegionRow("28", "Normandie", False),
    RegionRow("75", "Nouvelle-Aquitaine", False),
    RegionRow("76", "Occitanie", False),
    RegionRow("52", "Pays de la Loire", False),
    RegionRow("93", "Provence-Alpes-Côte d'Azur", False),
    RegionRow("01", "Guadeloupe", True),
    RegionRow("02", "Martinique", True),
    RegionRow("03", "Guyane", True),
    RegionRow("04", "La Réunion", True),
    RegionRow("06", "Mayotte", True),
)

_D = DepartmentRow
# 101 départements with their region, plus two overseas collectivities present in the FINESS
# extract that no ARS covers (975, 986): region None.
DEPARTMENTS: tuple[DepartmentRow, ...] = (
    _D("01", "Ain", "84"),
    _D("02", "Aisne", "32"),
    _D("03", "Allier", "84"),
    _D("04", "Alpes-de-Haute-Provence", "93"),
    _D("05", "Hautes-Alpes", "93"),
    _D("06", "Alpes-Maritimes", "93"),
    _D("07", "Ardèche", "84"),
    _D("08", "Ardennes", "44"),
    _D("09", "Ariège", "76"),
    _D("10", "Aube", "44"),
    _D("11", "Aude", "76"),
    _D("12", "Aveyron", "76"),
    _D("13", "Bouches-du-Rhône", "93"),
    _D("14", "Calvados", "28"),
    _D("15", "Cantal", "84"),
    _D("16", "Charente", "75"),
    _D("17", "Charente-Maritime", "75"),
    _D("18", "Cher", "24"),
    _D("19", "Corrèze", "75"),
    _D("2A", "Corse-du-Sud", "94"),
    _D("2B", "Haute-Corse", "94"),
    _D("21", "Côte-d'Or", "27"),
    _D("22", "Côtes-d'Armor", "53"),
    _D("23", "Creuse", "75"),
    _D("24", "Dordogne", "75"),
    _D("25", "Doubs", "27"),
    _D("26", "Drôme", "84"),
    _D("27", "Eure", "28"),
    _D("28", "Eure-et-Loir", "24"),
    _D("29", "Finistère", "53"),
    _D("30", "Gard", "76"),
    _D("31", "Haute-Garonne", "76"),
    _D("32", "Gers", "76"),
    _D("33", "Gironde", "75"),
    _D("34", "Hérault", "76"),
    _D("35", "Ille-et-Vilaine", "53"),
    _D("36", "Indre", "24"),
    _D("37", "Indre-et-Loire", "24"),
    _D("38", "Isère", "84"),
    _D("39", "Jura", "27"),
    _D("40", "Landes", "75"),
    _D("41", "Loir-et-Cher", "24"),
    _D("42", "Loire", "84"),
    _D("43", "Haute-Loire", "84"),
    _D("44", "Loire-Atlantique", "52"),
    _D("45", "Loiret", "24"),
    _D("46", "Lot", "76"),
    _D("47", "Lot-et-Garonne", "75"),
    _D("48", "Lozère", "76"),
    _D("49", "Maine-et-Loire", "52"),
    _D("50", "Manche", "28"),
    _D("51", "Marne", "44"),
    _D("52", "Haute-Marne", "44"),
    _D("53", "Mayenne", "52"),
    _D("54", "Meurthe-et-Moselle", "44"),
    _D("55", "Meuse", "44"),
    _D("56", "Morbihan", "53"),
    _D("57", "Moselle", "44"),
    _D("58", "Nièvre", "27"),
    _D("59", "Nord", "32"),
    _D("60", "Oise", "32"),
    _D("61", "Orne", "28"),
    _D("62", "Pas-de-Calais", "32"),
    _D("63", "Puy-de-Dôme", "84"),
    _D("64", "Pyrénées-Atlantiques", "75"),
    _D("65", "Hautes-Pyrénées", "76"),
    _D("66", "Pyrénées-Orientales", "76"),
    _D("67", "Bas-Rhin", "44"),
    _D("68", "Haut-Rhin", "44"),
    _D("69", "Rhône", "84"),
    _D("70", "Haute-Saône", "27"),
    _D("71", "Saône-et-Loire", "27"),
    _D("72", "Sarthe", "52"),
    _D("73", "Savoie", "84"),
    _D("74", "Haute-Savoie", "84"),
    _D("75", "Paris", "11"),
    _D("76", "Seine-Maritime", "28"),
    _D("77", "Seine-et-Marne", "11"),
    _D("78", "Yvelines", "11"),
    _D("79", "Deux-Sèvres", "75"),
    _D("80", "Somme", "32"),
    _D("81", "Tarn", "76"),
    _D("82", "Tarn-et-Garonne", "76"),
    _D("83", "Var", "93"),
    _D("84", "Vaucluse", "93"),
    _D("85", "Vendée", "52"),
    _D("86", "Vienne", "75"),
    _D("87", "Haute-Vienne", "75"),
    _D("88", "Vosges", "44"),
    _D("89", "Yonne", "27"),
    _D("90", "Territoire de Belfort", "27"),
    _D("91", "Essonne", "11"),
    _D("92", "Hauts-de-Seine", "11"),
    _D("93", "Seine-Saint-Denis", "11"),
    _D("94", "Val-de-Marne", "11"),
    _D("95", "Val-d'Oise", "11"),
    _D("971", "Guadeloupe", "01"),
    _D("972", "Martinique", "02"),
    _D("973", "Guyane", "03"),
    _D("974", "La Réunion", "04"),
    _D("976", "Mayotte", "06"),
    _D("975", "Saint-Pierre-et-Miquelon", None),
    _D("986", "Wallis-et-Futuna", None),
)

# etalab writes overseas départements with these two-character codes (domain.md §8).
ETALAB_DEPARTMENT_ALIASES: dict[str, str] = {
    "9A": "971",
    "9B": "972",
    "9C": "973",
    "9D": "974",
    "9E": "975",
    "9F": "976",
    "9J": "986",
}

CASF_ITEMS: tuple[CasfItemRow, ...] = (
    CasfItemRow("1°", 1, "Protection de l'enfance (aide sociale à l'enfance)", False),
    CasfItemRow("2°", 2, "Éducation et accompagnement des enfants et jeunes handicapés", False),
    CasfItemRow("3°", 3, "Action médico-sociale précoce (CAMSP)", False),
    CasfItemRow("4°", 4, "Protection judiciaire de la jeunesse", False),
    CasfItemRow("5°", 5, "Aide par le travail et réadaptation professionnelle", False),
    CasfItemRow("6°", 6, "Personnes âgées", False),
    CasfItemRow("7°", 7, "Adultes handicapés", False),
    CasfItemRow(
        "8°", 8, "Accueil, hébergement et insertion des personnes en difficulté (AHI)", True
    ),
    CasfItemRow("9°", 9, "Difficultés spécifiques (addictologie, LHSS, LAM, ACT)", False),
    CasfItemRow("10°", 10, "Foyers de jeunes travailleurs", False),
    CasfItemRow("11°", 11, "Centres de ressources et de coordination", False),
    CasfItemRow("12°", 12, "Établissements et services expérimentaux", False),
    CasfItemRow("13°", 13, "Accueil des demandeurs d'asile (CADA)", False),
    CasfItemRow("14°", 14, "Mandataires judiciaires à la protection des majeurs", True),
    CasfItemRow("15°", 15, "Délégués aux prestations familiales", True),
    CasfItemRow("16°", 16, "Aide et accompagnement à domicile des familles", False),
    CasfItemRow("17°", 17, "Item 17° (libellé à confirmer sur Légifrance)", False),
)

_C = FinessCategoryRow
FINESS_CATEGORIES: tuple[FinessCategoryRow, ...] = (
    # 1° protection de l'enfance
    _C("166", "Etablissement d'accueil mère-enfant", "1°", False),
    _C("172", "Pouponnière à caractère social", "1°", False),
    _C("175", "Foyer de l'enfance", "1°", False),
    _C("176", "Maison d'enfants à caractère social", "1°", False),
    _C("177", "Service d'action éducative en milieu ouvert (AEMO)", "1°", False),
    _C("236", "Lieu de vie et d'accueil", "1°", False),
    _C("241", "Service d'accompagnement éducatif", "1°", False),
    _C("286", "Club équipe de prévention", "1°", False),
    _C("295", "Service d'investigation éducative", "1°", False),
    # 2° enfance handicapée
    _C("182", "Service d'éducation spéciale et de soins à domicile (SESSAD)", "2°", False),
    _C("183", "Institut médico-éducatif (IME)", "2°", False),
    _C("186", "Institut thérapeutique, éducatif et pédagogique (ITEP)", "2°", False),
    _C("188", "Etablissement pour enfants et adolescents polyhandicapés", "2°", False),
    _C("189", "Centre médico-psycho-pédagogique (CMPP)", "2°", False),
    _C("192", "Institut d'éducation motrice", "2°", False),
    _C("194", "Institut pour déficients visuels", "2°", False),
    _C("195", "Institut pour déficients auditifs", "2°", False),
    _C("196", "Institut d'éducation sensorielle sourd-aveugle", "2°", False),
    _C("390", "Etablissement d'accueil temporaire d'enfants handicapés", "2°", False),
    _C("396", "Foyer d'hébergement pour enfants et adolescents handicapés", "2°", False),
    _C("402", "Jardin d'enfants spécialisé", "2°", False),
    # 3° CAMSP
    _C("190", "Centre d'action médico-sociale précoce (CAMSP)", "3°", False),
    # 4° PJJ
    _C("440", "Etablissement de placement éducatif (PJJ)", "4°", False),
    _C("441", "Service territorial éducatif de milieu ouvert (PJJ)", "4°", False),
    # 5° travail protégé et réadaptation
    _C("198", "Centre de pré-orientation pour handicapés", "5°", False),
    _C("246", "Etablissement et service d'aide par le travail (ESAT)", "5°", False),
    _C("249", "Centre de rééducation professionnelle", "5°", False),
    _C(
        "464",
        "Unité d'évaluation, de réentraînement et d'orientation socioprofessionnelle",
        "5°",
        False,
    ),
    # 6° personnes âgées
    _C("202", "Résidence autonomie", "6°", False),
    _C("207", "Centre de jour pour personnes âgées", "6°", False),
    _C("500", "Etablissement d'hébergement pour personnes âgées dépendantes (EHPAD)", "6°", False),
    _C("501", "EHPA percevant des crédits d'assurance maladie", "6°", False),
    _C("502", "EHPA ne percevant pas de crédits d'assurance maladie", "6°", False),
    # 6°/7° services à domicile (financés au prorata des heures éligibles)
    _C("209", "Service polyvalent d'aide et de soins à domicile (SPASAD)", "6°", True),
    _C("354", "Service de soins infirmiers à domicile (SSIAD)", "6°", True),
    _C("460", "Service d'aide et d'accompagnement à domicile (SAAD)", "6°", True),
    # 7° adultes handicapés
    _C("238", "Centre d'accueil de jour pour adultes handicapés", "7°", False),
    _C("242", "Centre d'hébergement pour adultes handicapés", "7°", False),
    _C("252", "Foyer d'hébergement pour adultes handicapés", "7°", False),
    _C("255", "Maison d'accueil spécialisée (MAS)", "7°", False),
    _C("382", "Foyer de vie pour adultes handicapés", "7°", False),
    _C("395", "Etablissement d'accueil temporaire pour adultes handicapés", "7°", False),
    _C("437", "Foyer d'accueil médicalisé (FAM)", "7°", False),
    _C("445", "Service médico-social pour adultes handicapés (SAMSAH)", "7°", False),
    _C("446", "Service d'accompagnement à la vie sociale (SAVS)", "7°", False),
    _C("448", "Etablissement d'accueil médicalisé en tout ou partie (EAM)", "7°", False),
    _C(
        "449",
        "Etablissement d'accueil non médicalisé pour personnes handicapées (EANM)",
        "7°",
        False,
    ),
    # 8° AHI
    _C("214", "Centre d'hébergement et de réinsertion sociale (CHRS)", "8°", False),
    _C("219", "Autre centre d'accueil", "8°", False),
    _C("442", "Centre provisoire d'hébergement (CPH)", "8°", False),
    _C("444", "Centre d'accueil pour demandeurs d'asile - hébergement d'urgence", "8°", False),
    # 9° difficultés spécifiques
    _C("165", "Appartement de coordination thérapeutique (ACT)", "9°", False),
    _C(
        "178",
        "Centre de soins, d'accompagnement et de prévention en addictologie (CSAPA)",
        "9°",
        False,
    ),
    _C("180", "Lits halte soins santé (LHSS)", "9°", False),
    _C(
        "197",
        "Centre d'accueil et d'accompagnement à la réduction des risques (CAARUD)",
        "9°",
        False,
    ),
    _C("213", "Lits d'accueil médicalisés (LAM)", "9°", False),
    # 10° FJT
    _C("257", "Foyer de jeunes travailleurs (FJT)", "10°", False),
    # 11° centres de ressources
    _C("461", "Centre de ressources", "11°", False),
    _C("463", "Centre local d'information et de coordination (CLIC)", "11°", False),
    # 12° expérimentaux
    _C("370", "Etablissement expérimental pour personnes âgées", "12°", False),
    _C("377", "Etablissement expérimental pour enfance protégée", "12°", False),
    _C("378", "Etablissement expérimental pour adultes handicapés", "12°", False),
    _C("379", "Etablissement expérimental pour enfance handicapée", "12°", False),
    _C("380", "Etablissement expérimental pour personnes en difficulté", "12°", False),
    _C("381", "Etablissement expérimental autres", "12°", False),
    # 13° CADA
    _C("443", "Centre d'accueil de demandeurs d'asile (CADA)", "13°", False),
    # 14° MJPM, 15° DPF
    _C("340", "Service mandataire judiciaire à la protection des majeurs", "14°", False),
    _C("341", "Mandataire judiciaire individuel à la protection des majeurs", "14°", False),
    _C("342", "Préposé d'établissement mandataire judiciaire", "14°", False),
    _C("344", "Service délégué aux prestations familiales", "15°", False),
    # 16° aide à domicile aux familles
    _C("640", "Service d'aide et d'accompagnement à domicile aux familles", "16°", False),
    # Not ESSMS (kept in the referential, never eligible).
    _C("101", "Centre hospitalier régional (CHR)", None, False),
    _C("146", "Structure d'alternative à la dialyse en centre", None, False),
    _C("223", "Protection maternelle et infantile (PMI)", None, False),
    _C("355", "Centre hospitalier (CH)", None, False),
    _C("362", "Unité de soins de longue durée (USLD)", None, False),
    _C("620", "Pharmacie d'officine", None, False),
    _C("699", "Autre établissement de santé", None, False),
)

REGION_BY_CODE: dict[str, RegionRow] = {row.code: row for row in REGIONS}
DEPARTMENT_BY_CODE: dict[str, DepartmentRow] = {row.code: row for row in DEPARTMENTS}
CASF_ITEM_BY_CODE: dict[str, CasfItemRow] = {row.code: row for row in CASF_ITEMS}
CATEGORY_BY_CODE: dict[str, FinessCategoryRow] = {row.code: row for row in FINESS_CATEGORIES}


def normalise_department(code: str) -> str:
    """INSEE code of a département written as etalab or by hand ("1" → "01", "9A" → "971")."""
    cleaned = code.strip().upper()
    if cleaned in ETALAB_DEPARTMENT_ALIASES:
        return ETALAB_DEPARTMENT_ALIASES[cleaned]
    if len(cleaned) == 1 and cleaned.isdigit():
        return f"0{cleaned}"
    return cleaned


def department_of_finess(finess: str) -> str:
    """The département a FINESS number belongs to: "97x" overseas, "98…" Mayotte, else two."""
    if finess.startswith("97"):
        return finess[:3]
    if finess.startswith("98"):
        return "976"
    return finess[:2]
