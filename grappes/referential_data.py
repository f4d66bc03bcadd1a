"""The referential as data: regions, départements, CASF L312-1 items, FINESS categories.

Pure Python (no Django import) so that the data migration ``grappes/migrations/0002_referential``,
data generators and tests share one source. Facts come from ``shared/docs/domain.md``:

- §9: the 18 ARS regions (INSEE codes, in the order of §9) and their départements; Corse (94) and
  the overseas regions (01 to 06) use the reduced grappe minimum of 8 ESSMS (§3);
- §8: the FINESS extract writes overseas départements with etalab codes (``9A`` … ``9J``), and
  carries two overseas collectivities that no ARS covers (975, 986): they get no region;
- §7: the département a FINESS number starts with;
- §6: the 17 items of CASF L312-1 I and the **product mapping** of FINESS categories to items;
  AHI (8°) and juridical protection (14°, 15°) are exempt from the Ségur requirement (§3).
"""

from __future__ import annotations

from typing import NamedTuple


class RegionRow(NamedTuple):
    """One ARS region (domain.md §9)."""

    code: str
    name: str
    reduced_grappe_minimum: bool


class DepartmentRow(NamedTuple):
    """One département or overseas collectivity; ``region`` is None where no ARS covers it."""

    code: str
    name: str
    region: str | None


class CasfItemRow(NamedTuple):
    """One item of CASF L312-1 I (domain.md §6); ``code`` is written like ``"6°"``."""

    code: str
    number: int
    label: str
    segur_exempt: bool


class FinessCategoryRow(NamedTuple):
    """One FINESS category (TRE_R66); ``casf_item`` is None for categories that are not ESSMS."""

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

# Short paraphrases of CASF L312-1 I (domain.md §6); 12° to 17° still to be checked against
# Légifrance. segur_exempt: AHI (8°) and juridical protection (14°, 15°) need no Ségur-referenced
# solution (§3) but keep the usage targets.
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
    # No FINESS category maps to 17° (the portal's eligibility never reaches it): the label says
    # so instead of a placeholder shown to reviewers (migration 0007 renames existing rows).
    CasfItemRow("17°", 17, "Item sans catégorie FINESS rattachée", False),
)

_C = FinessCategoryRow
# Labels are the main libellés of the FINESS nomenclature (TRE_R66, ANS 2026 edition), i.e. what
# `libcategetab` carries in the etalab extract, with typographic apostrophes made plain. Older
# extracts show former libellés for a few codes (209 SPASAD, 460 SAAD, 166 Etablissement d'Accueil
# Mère-Enfant, 236 C.P.F.S.E.): the code, not the label, is what the import matches on.
FINESS_CATEGORIES: tuple[FinessCategoryRow, ...] = (
    # 1° protection de l'enfance
    _C("166", "Centre Parents-Enfants de moins de 3 ans", "1°", False),
    _C("172", "Pouponnière à Caractère Social", "1°", False),
    _C("175", "Foyer de l'Enfance", "1°", False),
    _C("176", "Village d'Enfants", "1°", False),
    _C("177", "Maison d'Enfants à Caractère Social", "1°", False),
    _C("236", "Service de placement familial", "1°", False),
    _C("241", "Établissement de Placement", "1°", False),
    _C("286", "Service de prévention spécialisée", "1°", False),
    _C("295", "Service AEMO et AED", "1°", False),
    # 2° enfants et adolescents handicapés
    _C("182", "Service d'Éducation Spéciale et de Soins à Domicile", "2°", False),
    _C("183", "Institut Médico-Educatif (I.M.E.)", "2°", False),
    _C("186", "Institut Thérapeutique Éducatif et Pédagogique (I.T.E.P.)", "2°", False),
    _C("188", "Etablissement pour Enfants ou Adolescents Polyhandicapés", "2°", False),
    _C("189", "Centre Médico-Psycho-Pédagogique (C.M.P.P.)", "2°", False),
    _C("192", "Institut d'éducation motrice", "2°", False),
    _C("194", "Institut pour Déficients Visuels", "2°", False),
    _C("195", "Institut pour Déficients Auditifs", "2°", False),
    _C("196", "Institut d'Education Sensorielle Sourd-Aveugle", "2°", False),
    _C("390", "Etablissement d'Accueil Temporaire d'Enfants Handicapés", "2°", False),
    _C("396", "Foyer Hébergement Enfants et Adolescents Handicapés", "2°", False),
    _C("402", "Jardin d'Enfants Spécialisé", "2°", False),
    # 3° action médico-sociale précoce
    _C("190", "Centre Action Médico-Sociale Précoce (C.A.M.S.P.)", "3°", False),
    # 4° protection judiciaire de la jeunesse
    _C("440", "Service d'Investigation Educative", "4°", False),
    _C("441", "Service d'Intervention Educative en Milieu Ouvert", "4°", False),
    # 5° aide par le travail, réadaptation professionnelle
    _C("198", "Établissement et Service de Préorientation", "5°", False),
    _C("246", "Etablissement et Service d'Aide par le Travail (E.S.A.T.)", "5°", False),
    _C("249", "Établissement et Service de Réadaptation Professionnelle", "5°", False),
    _C("464", "Unités Evaluation Réentraînement et d'Orient. Soc. et Pro.", "5°", False),
    # 6° personnes âgées
    _C("202", "Résidences autonomie", "6°", False),
    _C("207", "Centre de Jour pour Personnes Agées", "6°", False),
    _C("500", "Etablissement d'hébergement pour personnes âgées dépendantes", "6°", False),
    _C("501", "EHPA percevant des crédits d'assurance maladie", "6°", False),
    _C("502", "EHPA ne percevant pas des crédits d'assurance maladie", "6°", False),
    # 6°/7° services à domicile: filed under 6°, flagged home_care because they serve both
    # older and disabled people (the grappe declares the eligible share).
    _C("209", "Service autonomie aide et soins (SAAS)", "6°", True),
    _C("354", "Service de Soins Infirmiers A Domicile (S.S.I.A.D)", "6°", True),
    _C("460", "Service autonomie aide (SAA)", "6°", True),
    # 7° adultes handicapés
    _C("238", "Centre d'Accueil Familial Spécialisé", "7°", False),
    _C("242", "Service d'Activité de Jour", "7°", False),
    _C("252", "Foyer Hébergement Adultes Handicapés", "7°", False),
    _C("255", "Maison d'Accueil Spécialisée (M.A.S.)", "7°", False),
    _C("382", "Foyer de Vie pour Adultes Handicapés", "7°", False),
    _C("395", "Etablissement d'Accueil Temporaire pour Adultes Handicapés", "7°", False),
    _C("437", "Foyer d'Accueil Médicalisé pour Adultes Handicapés (F.A.M.)", "7°", False),
    _C("445", "Service d'accompagnement médico-social adultes handicapés", "7°", False),
    _C("446", "Service d'Accompagnement à la Vie Sociale (S.A.V.S.)", "7°", False),
    _C("448", "Etab.Acc.Médicalisé en tout ou partie personnes handicapées", "7°", False),
    _C("449", "Etab.Accueil Non Médicalisé pour personnes handicapées", "7°", False),
    # 8° accueil, hébergement, insertion (AHI)
    _C("214", "Centre Hébergement & Réinsertion Sociale (C.H.R.S.)", "8°", False),
    _C("219", "Autre Centre d'Accueil", "8°", False),
    _C("442", "Centre Provisoire Hébergement (C.P.H.)", "8°", False),
    _C("444", "Centre Crise Accueil Permanent", "8°", False),
    # 9° difficultés spécifiques
    _C("165", "Appartement de Coordination Thérapeutique (A.C.T.)", "9°", False),
    _C("178", "Ctre.Accueil- Accomp.Réduc.Risq.Usag. Drogues (C.A.A.R.U.D.)", "9°", False),
    _C("180", "Lits Halte Soins Santé (L.H.S.S.)", "9°", False),
    _C("197", "Centre soins accompagnement prévention addictologie (CSAPA)", "9°", False),
    _C("213", "Lits d'Accueil Médicalisés (L.A.M.)", "9°", False),
    # 10° foyers de jeunes travailleurs
    _C("257", "Foyers de jeunes travailleurs", "10°", False),
    # 11° centres de ressources et de coordination
    _C("461", "Centres de Ressources S.A.I. (Sans Aucune Indication)", "11°", False),
    _C("463", "Centres Locaux Information Coordination P.A.(C.L.I.C.)", "11°", False),
    # 12° établissements et services expérimentaux
    _C("370", "Etablissement Expérimental pour personnes handicapées", "12°", False),
    _C("377", "Etablissement Expérimental pour Enfance Handicapée", "12°", False),
    _C("378", "Etablissement Expérimental Enfance Protégée", "12°", False),
    _C("379", "Etablissement Expérimental pour Adultes Handicapés", "12°", False),
    _C("380", "Etablissement Expérimental Autres Adultes", "12°", False),
    _C("381", "Etablissement Expérimental pour Personnes Agées", "12°", False),
    # 13° demandeurs d'asile
    _C("443", "Centre Accueil Demandeurs Asile (C.A.D.A.)", "13°", False),
    # 14° protection juridique des majeurs, 15° aide à la gestion du budget familial
    _C("340", "Service mandataire judiciaire à la protection des majeurs", "14°", False),
    _C("341", "Service dédié mesures d'accompagnement social personnalisé", "14°", False),
    _C("342", "Service d'information et de soutien aux tuteurs familiaux", "14°", False),
    _C("344", "Service délégué aux prestations familiales", "15°", False),
    # 16° aide et accompagnement à domicile des familles
    _C("640", "Service d'aide et d'accompagnement à domicile aux familles (SAADF)", "16°", False),
    # Not ESSMS: kept so that an imported establishment shows its category, never eligible.
    _C("101", "Centre Hospitalier Régional (C.H.R.)", None, False),
    _C("106", "Centre hospitalier, ex Hôpital local", None, False),
    _C("109", "Etablissement de santé privé autorisé en SSR", None, False),
    _C("124", "Centre de Santé", None, False),
    _C("127", "Hospitalisation à Domicile", None, False),
    _C("146", "Structure d'Alternative à la dialyse en centre", None, False),
    _C("156", "Centre Médico-Psychologique (C.M.P.)", None, False),
    _C("223", "Protection Maternelle et Infantile (P.M.I.)", None, False),
    _C("292", "Centre Hospitalier Spécialisé lutte Maladies Mentales", None, False),
    _C("355", "Centre Hospitalier (C.H.)", None, False),
    _C("362", "Etablissement de Soins Longue Durée", None, False),
    _C("603", "Maison de santé (L.6223-3)", None, False),
    _C("611", "Laboratoire de Biologie Médicale", None, False),
    _C("620", "Pharmacie d'Officine", None, False),
    _C("699", "Entité Ayant Autorisation", None, False),
)

REGION_BY_CODE: dict[str, RegionRow] = {row.code: row for row in REGIONS}
DEPARTMENT_BY_CODE: dict[str, DepartmentRow] = {row.code: row for row in DEPARTMENTS}
CASF_ITEM_BY_CODE: dict[str, CasfItemRow] = {row.code: row for row in CASF_ITEMS}
CATEGORY_BY_CODE: dict[str, FinessCategoryRow] = {row.code: row for row in FINESS_CATEGORIES}


def normalise_department(code: str) -> str:
    """INSEE code of a département typed by hand or written by etalab.

    Strips and uppercases, maps etalab aliases ("9A" → "971") and pads a lone digit ("1" → "01").
    Codes that are already INSEE codes ("2A", "75", "974") come back unchanged.
    """
    cleaned = code.strip().upper()
    if cleaned in ETALAB_DEPARTMENT_ALIASES:
        return ETALAB_DEPARTMENT_ALIASES[cleaned]
    if len(cleaned) == 1 and cleaned.isdigit():
        return f"0{cleaned}"
    return cleaned


def department_of_finess(finess: str) -> str:
    """The département a FINESS number belongs to (domain.md §7).

    "97x…" gives "97x" (overseas: the third character names the territory); any "98…" number is
    Mayotte ("976"), which FINESS numbers with that older prefix; "2A…"/"2B…" give Corsica; anything
    else gives its first two characters. The result is not checked against ``DEPARTMENTS``.
    """
    if finess.startswith("97"):
        return finess[:3]
    if finess.startswith("98"):
        return "976"
    return finess[:2]
