"""Shared material for synthetic data: the FINESS extract generator and the national demo.

Pure Python (no Django model import) so that ``scripts/generate_finess_extract.py`` runs without
a database. Shares are rough orders of magnitude of the real FINESS (about 40 000 ESSMS in about
100 000 establishments, domain.md §10): plausible volumes, not statistics.
"""

from __future__ import annotations

import random

from essms_portal.identifiers import finess_with_key

from ..referential_data import DEPARTMENTS, ETALAB_DEPARTMENT_ALIASES

# Share of the ESSMS per ARS region (roughly its share of the population), in per mille.
REGION_WEIGHTS: dict[str, int] = {
    "11": 180,
    "84": 120,
    "75": 92,
    "76": 90,
    "32": 88,
    "44": 82,
    "93": 75,
    "52": 58,
    "53": 50,
    "28": 50,
    "27": 42,
    "24": 38,
    "94": 5,
    "01": 6,
    "02": 5,
    "03": 4,
    "04": 13,
    "06": 4,
}

# The ESSMS mix (FINESS category → relative weight): EHPAD, home care, disability and social
# services dominate, as in the real referential.
ESSMS_CATEGORY_WEIGHTS: dict[str, int] = {
    "500": 7400,  # EHPAD
    "460": 5200,  # SAAD / SAA
    "354": 2100,  # SSIAD
    "202": 2200,  # résidences autonomie
    "209": 300,  # SPASAD / SAAS
    "207": 300,  # accueil de jour
    "502": 300,
    "501": 100,
    "246": 1450,  # ESAT
    "382": 1800,  # foyers de vie
    "252": 1200,  # foyers d'hébergement
    "437": 950,  # FAM
    "255": 720,  # MAS
    "446": 1300,  # SAVS
    "445": 550,  # SAMSAH
    "448": 150,
    "449": 200,
    "395": 60,
    "238": 50,
    "242": 60,
    "182": 1800,  # SESSAD
    "183": 1200,  # IME
    "186": 450,  # ITEP
    "188": 160,
    "189": 380,  # CMPP
    "192": 120,
    "194": 50,
    "195": 60,
    "196": 10,
    "390": 20,
    "396": 40,
    "402": 10,
    "190": 350,  # CAMSP
    "177": 1300,  # MECS
    "175": 150,
    "176": 40,
    "172": 30,
    "166": 120,
    "236": 250,
    "241": 120,
    "286": 300,
    "295": 450,
    "440": 120,
    "441": 230,
    "198": 50,
    "249": 110,
    "464": 20,
    "214": 900,  # CHRS
    "219": 300,
    "442": 110,
    "444": 40,
    "443": 900,  # CADA
    "165": 200,
    "178": 150,
    "180": 110,
    "197": 400,  # CSAPA
    "213": 40,
    "257": 500,  # FJT
    "461": 150,
    "463": 250,
    "370": 40,
    "377": 20,
    "378": 20,
    "379": 40,
    "380": 20,
    "381": 20,
    "340": 350,  # MJPM
    "341": 40,
    "342": 60,
    "344": 110,  # DPF
    "640": 150,  # SAADF
}

# Establishments of the extract that are not ESSMS (health, pharmacies, laboratories...).
OTHER_CATEGORY_WEIGHTS: dict[str, int] = {
    "620": 21000,  # pharmacies
    "611": 4000,
    "124": 3000,
    "603": 2500,
    "156": 2500,
    "223": 2500,
    "355": 1100,
    "362": 600,
    "106": 300,
    "109": 900,
    "127": 300,
    "146": 900,
    "292": 300,
    "101": 150,
    "699": 400,
}

# Real FINESS codes that the portal's referential does not list: the import keeps them,
# not eligible, and reports them.
UNLISTED_CATEGORY_CODES = ("628", "697", "698", "365")


def _codes(text: str) -> tuple[str, ...]:
    """Category codes written as one space-separated string (easier to read in bulk)."""
    return tuple(text.split())


# How ESSMS group under gestionnaires: each family draws its categories from its own mix.
CATEGORY_FAMILIES: dict[str, tuple[str, ...]] = {
    "personnes âgées": _codes("500 460 354 202 209 207 502 501 381"),
    "handicap": _codes(
        "246 382 252 437 255 446 445 448 449 395 238 242 182 183 186 188 189 192 194 195 196 "
        "390 396 402 190 198 249 464 370 377 379 461 463"
    ),
    "enfance": _codes("177 175 176 172 166 236 241 286 295 440 441 378 257 640"),
    "inclusion": _codes("214 219 442 444 443 165 178 180 197 213 380 257"),
    "protection juridique": _codes("340 341 342 344"),
}

NAME_PREFIX: dict[str, str] = {
    "500": "EHPAD",
    "460": "SAAD",
    "354": "SSIAD",
    "202": "RESIDENCE AUTONOMIE",
    "209": "SPASAD",
    "246": "ESAT",
    "382": "FOYER DE VIE",
    "252": "FOYER D'HEBERGEMENT",
    "437": "FAM",
    "255": "MAS",
    "446": "SAVS",
    "445": "SAMSAH",
    "182": "SESSAD",
    "183": "IME",
    "186": "ITEP",
    "189": "CMPP",
    "190": "CAMSP",
    "177": "MECS",
    "214": "CHRS",
    "443": "CADA",
    "197": "CSAPA",
    "257": "FJT",
    "340": "SERVICE MJPM",
    "344": "SERVICE DPF",
    "620": "PHARMACIE",
    "611": "LABORATOIRE",
    "124": "CENTRE DE SANTE",
    "355": "CENTRE HOSPITALIER",
    "362": "USLD",
}

PLACE_NAMES = (
    "LES TILLEULS", "LES GLYCINES", "LE PARC", "LES CHENES", "SAINT-JOSEPH", "LA ROSERAIE",
    "LES JARDINS", "L'ESTEREL", "LES PINS", "BEL AIR", "LE VAL FLEURI", "LES SOURCES",
    "LA COLLINE", "LES ÉTANGS", "SAINTE-CÉCILE", "LE CLOS DES VIGNES", "L'ÉCRIN", "LES MIMOSAS",
    "LA FONTAINE", "LES PRÉS", "MONTPLAISIR", "LES CYGNES", "LA CHÂTAIGNERAIE", "LES AUBÉPINES",
    "LE BOCAGE", "PIERRE BROSSOLETTE", "JEAN MOULIN", "LOUISE MICHEL", "VICTOR HUGO",
    "MARIE CURIE", "LES ORMES", "LA BRUYÈRE", "LE MOULIN", "LES HORTENSIAS", "L'OLIVERAIE",
)  # fmt: skip
COMMUNES = (
    "SAINT-MARTIN", "VILLENEUVE", "MONTREUIL", "BEAUMONT", "FONTAINE", "CHÂTEAUNEUF",
    "SAINTE-FOY", "BOURG", "LA CHAPELLE", "NEUVILLE", "VAL-D'ARRÉ", "ÉPINAY", "RIVIÈRE-SALÉE",
)  # fmt: skip
STREET_TYPES = ("R", "AV", "BD", "CHE", "PL", "RTE", "IMP", "ALL", "QUA")
STREET_NAMES = (
    "DE LA REPUBLIQUE", "DU GENERAL DE GAULLE", "DES ÉCOLES", "PASTEUR", "JEAN JAURES",
    "DE LA GARE", "DU MOULIN", "DES LILAS", "DU STADE", "DE L'ÉGLISE", "VICTOR HUGO",
    "DES ACACIAS", "DE LA LIBERATION", "DU 8 MAI 1945", "NATIONALE", "DES PRÉS",
)  # fmt: skip
ORGANISATION_KINDS = (
    "ASSOCIATION", "FONDATION", "CCAS DE", "CIAS DE", "MUTUALITE", "SAS", "GCSMS",
    "ASSOCIATION DEPARTEMENTALE", "CENTRE HOSPITALIER DE",
)  # fmt: skip


def department_weights(*, with_unregioned: bool = False) -> list[tuple[str, float]]:
    """(INSEE département, weight): each region's weight split evenly over its départements.

    ``with_unregioned`` adds the two collectivities no ARS covers (975, 986) with a tiny weight,
    so that the extract generator exercises them.
    """
    by_region: dict[str, list[str]] = {}
    for row in DEPARTMENTS:
        if row.region is not None:
            by_region.setdefault(row.region, []).append(row.code)
    weights = [
        (code, REGION_WEIGHTS[region] / len(codes))
        for region, codes in by_region.items()
        for code in codes
    ]
    if with_unregioned:
        weights += [("975", 0.05), ("986", 0.05)]
    return weights


ETALAB_CODE_OF_DEPARTMENT = {insee: alias for alias, insee in ETALAB_DEPARTMENT_ALIASES.items()}


def finess_number(department: str, sequence: int, rng: random.Random) -> str:
    """A valid FINESS number of ``department`` (INSEE code) from a per-département sequence.

    Mainland: 2-character prefix + 6 digits + Luhn key; overseas (97x, 98x): 3-character prefix
    + 5 digits + key; Corsica (2A/2B) cannot carry a Luhn key, any digit does (domain.md §7).
    """
    if department in ("2A", "2B"):
        return f"{department}{sequence:06d}{rng.randrange(10)}"
    if len(department) == 3:
        return finess_with_key(f"{department}{sequence:05d}")
    return finess_with_key(f"{department}{sequence:06d}")


def establishment_name(category: str, rng: random.Random) -> str:
    """A plausible establishment name for a category (upper case, like FINESS)."""
    prefix = NAME_PREFIX.get(category, "ETABLISSEMENT")
    return f"{prefix} {rng.choice(PLACE_NAMES)}"


def organisation_name(rng: random.Random) -> str:
    """A plausible gestionnaire name."""
    return f"{rng.choice(ORGANISATION_KINDS)} {rng.choice(PLACE_NAMES)}"
