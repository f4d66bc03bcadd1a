"""The programme's identifiers: FINESS (EJ and ET), SIREN and SIRET, and the bank details of
payment orders (IBAN, BIC) — pure functions.

FINESS, SIREN and SIRET end with a Luhn check digit (domain.md §7). Corsican FINESS numbers
(2A/2B) cannot be Luhn-checked and are accepted on their shape. La Poste (SIREN 356000000) numbers
its many establishments outside Luhn: one of its SIRETs is valid when its digits add up to a
multiple of 5.

The ``*_error`` functions return a French message for the gestionnaire (None when the number is
valid); ``*_with_key`` complete a number with its key, for data generators and tests. An IBAN is
checked on its country (SEPA), its length for that country and its ISO 7064 mod-97 key; a BIC on
its ISO 9362 shape (it has no key). Both tolerate spaces and lower case: ``normalize_iban`` and
``normalize_bic`` give the stored form. This module imports nothing but the standard library,
so the pure funding rules may use it; the Django validators built on it live in
``essms_portal.identifiers``.
"""

from __future__ import annotations

LA_POSTE_SIREN = "356000000"
CORSICAN_FINESS_PREFIXES = ("2A", "2B")


def _is_ascii_digits(value: str) -> bool:
    """True for a non-empty string of 0-9 only (``str.isdigit`` also accepts superscripts)."""
    return value.isascii() and value.isdigit()


def luhn_is_valid(digits: str) -> bool:
    """True when ``digits`` is a non-empty string of 0-9 that passes the Luhn check."""
    if not _is_ascii_digits(digits):
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _luhn_key(body: str) -> str:
    """The check digit that makes ``body + key`` Luhn-valid (``body`` must be digits)."""
    if not _is_ascii_digits(body):
        raise ValueError(f"not a string of digits: {body!r}")
    for key in "0123456789":
        if luhn_is_valid(body + key):
            return key
    raise AssertionError("unreachable: exactly one of the ten digits completes a Luhn number")


def finess_error(value: str) -> str | None:
    """None when ``value`` is a valid FINESS number, else a French message saying why."""
    if len(value) != 9:
        return "Le numéro FINESS doit comporter 9 caractères."
    if value[:2] in CORSICAN_FINESS_PREFIXES:
        # Corsican numbers carry letters, so the Luhn key cannot apply: shape check only.
        if not _is_ascii_digits(value[2:]):
            return "Le numéro FINESS ne doit comporter que des chiffres après 2A ou 2B."
        return None
    if not _is_ascii_digits(value):
        return "Le numéro FINESS ne doit comporter que des chiffres (ou commencer par 2A ou 2B)."
    if not luhn_is_valid(value):
        return "La clé de contrôle du numéro FINESS est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_finess(value: str) -> bool:
    """True for a well-formed FINESS number with a correct key (or a Corsican number)."""
    return finess_error(value) is None


def siren_error(value: str) -> str | None:
    """None when ``value`` is a valid SIREN, else a French message saying why."""
    if len(value) != 9 or not _is_ascii_digits(value):
        return "Le numéro SIREN doit comporter 9 chiffres."
    if value != LA_POSTE_SIREN and not luhn_is_valid(value):
        return "La clé de contrôle du numéro SIREN est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_siren(value: str) -> bool:
    """True for a valid SIREN (Luhn; La Poste's 356000000 always accepted)."""
    return siren_error(value) is None


def _is_la_poste_siret(value: str) -> bool:
    """True for a La Poste SIRET that follows La Poste's own rule (digit sum multiple of 5)."""
    return value.startswith(LA_POSTE_SIREN) and sum(int(c) for c in value) % 5 == 0


def siret_error(value: str) -> str | None:
    """None when ``value`` is a valid SIRET, else a French message saying why."""
    if len(value) != 14 or not _is_ascii_digits(value):
        return "Le numéro SIRET doit comporter 14 chiffres."
    # Luhn first: La Poste's head office (35600000000048) is Luhn-valid although its digit sum
    # is 26, so the La Poste rule widens the check rather than replacing it.
    if not luhn_is_valid(value) and not _is_la_poste_siret(value):
        return "La clé de contrôle du numéro SIRET est incorrecte : vérifiez le numéro saisi."
    return None


def is_valid_siret(value: str) -> bool:
    """True for a valid SIRET (Luhn, or La Poste's digit-sum rule)."""
    return siret_error(value) is None


def finess_with_key(first_eight: str) -> str:
    """A valid FINESS number from its first eight digits (data generators, tests)."""
    return first_eight + _luhn_key(first_eight)


def siren_with_key(first_eight: str) -> str:
    """A valid SIREN from its first eight digits."""
    return first_eight + _luhn_key(first_eight)


def siret_with_key(first_thirteen: str) -> str:
    """A valid SIRET from its first thirteen digits (a SIREN plus the first four NIC digits)."""
    return first_thirteen + _luhn_key(first_thirteen)


# --------------------------------------------------------------------------------------------
# Bank details: IBAN (ISO 13616) and BIC (ISO 9362), for payment orders (domain.md §5)
# --------------------------------------------------------------------------------------------

# IBAN length by country for the SEPA area (the ESMS numérique programme pays through the Caisse
# des dépôts, in euros: a beneficiary's account is in SEPA). Source: SWIFT's IBAN registry.
# French overseas départements and collectivities use FR IBANs; Monaco has its own code.
IBAN_LENGTHS: dict[str, tuple[int, str]] = {
    "AD": (24, "Andorre"),
    "AL": (28, "Albanie"),
    "AT": (20, "Autriche"),
    "BE": (16, "Belgique"),
    "BG": (22, "Bulgarie"),
    "CH": (21, "Suisse"),
    "CY": (28, "Chypre"),
    "CZ": (24, "Tchéquie"),
    "DE": (22, "Allemagne"),
    "DK": (18, "Danemark"),
    "EE": (20, "Estonie"),
    "ES": (24, "Espagne"),
    "FI": (18, "Finlande"),
    "FR": (27, "France"),
    "GB": (22, "Royaume-Uni"),
    "GI": (23, "Gibraltar"),
    "GR": (27, "Grèce"),
    "HR": (21, "Croatie"),
    "HU": (28, "Hongrie"),
    "IE": (22, "Irlande"),
    "IS": (26, "Islande"),
    "IT": (27, "Italie"),
    "LI": (21, "Liechtenstein"),
    "LT": (20, "Lituanie"),
    "LU": (20, "Luxembourg"),
    "LV": (21, "Lettonie"),
    "MC": (27, "Monaco"),
    "MD": (24, "Moldavie"),
    "ME": (22, "Monténégro"),
    "MK": (19, "Macédoine du Nord"),
    "MT": (31, "Malte"),
    "NL": (18, "Pays-Bas"),
    "NO": (15, "Norvège"),
    "PL": (28, "Pologne"),
    "PT": (25, "Portugal"),
    "RO": (24, "Roumanie"),
    "RS": (22, "Serbie"),
    "SE": (24, "Suède"),
    "SI": (19, "Slovénie"),
    "SK": (24, "Slovaquie"),
    "SM": (27, "Saint-Marin"),
    "VA": (22, "Vatican"),
}

# Spaces a person or a PDF may leave in an IBAN or a BIC: space, no-break and narrow no-break.
_BANK_SPACES = str.maketrans("", "", " \u00a0\u202f\t")


def _is_ascii_alnum(value: str) -> bool:
    """True for a non-empty string of A-Z and 0-9 only."""
    return value.isascii() and value.isalnum()


def normalize_iban(value: str) -> str:
    """An IBAN without its spaces, in upper case (the form it is stored and checked in)."""
    return value.translate(_BANK_SPACES).upper()


def format_iban(value: str) -> str:
    """An IBAN in groups of four characters, for display (``FR76 3000 6000 …``)."""
    iban = normalize_iban(value)
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _iban_remainder(iban: str) -> int:
    """ISO 7064 mod 97-10 of an IBAN: the first four characters moved to the end, A=10…Z=35."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def iban_error(value: str) -> str | None:
    """None when ``value`` is a valid SEPA IBAN (spaces and case tolerated), else why, in French."""
    iban = normalize_iban(value)
    if not iban:
        return "Saisissez l'IBAN du compte bancaire."
    if not _is_ascii_alnum(iban):
        return "L'IBAN ne doit comporter que des lettres et des chiffres."
    if len(iban) < 4 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return (
            "L'IBAN doit commencer par le code du pays (deux lettres) suivi de deux chiffres de"
            " contrôle, par exemple FR76."
        )
    country = iban[:2]
    if country not in IBAN_LENGTHS:
        return (
            f"Le code pays « {country} » n'est pas celui d'un pays de la zone SEPA : le"
            " versement ne peut être fait que sur un compte de la zone SEPA."
        )
    length, name = IBAN_LENGTHS[country]
    if len(iban) != length:
        return (
            f"Un IBAN {country} ({name}) comporte {length} caractères ; celui-ci en compte"
            f" {len(iban)}."
        )
    if _iban_remainder(iban) != 1:
        return "La clé de contrôle de l'IBAN est incorrecte : vérifiez l'IBAN saisi."
    return None


def is_valid_iban(value: str) -> bool:
    """True for a valid SEPA IBAN (country, length, mod 97)."""
    return iban_error(value) is None


def iban_with_key(country: str, bban: str) -> str:
    """A valid IBAN from a country code and a national account number (data generators, tests)."""
    remainder = _iban_remainder(f"{country}00{bban}".upper())
    return f"{country}{98 - remainder:02d}{bban}".upper()


def normalize_bic(value: str) -> str:
    """A BIC without its spaces, in upper case."""
    return value.translate(_BANK_SPACES).upper()


def bic_error(value: str) -> str | None:
    """None when ``value`` has the shape of a BIC (ISO 9362), else why, in French.

    8 or 11 characters: the institution (4 letters or digits, ISO 9362:2014), the country (2
    letters), the location (2 letters or digits), optionally the branch (3 letters or digits).
    Only the shape can be checked: a BIC carries no check digit.
    """
    bic = normalize_bic(value)
    if not bic:
        return "Saisissez le BIC (code SWIFT) de la banque."
    if not _is_ascii_alnum(bic):
        return "Le BIC ne doit comporter que des lettres et des chiffres."
    if len(bic) not in (8, 11):
        return f"Le BIC comporte 8 ou 11 caractères ; celui-ci en compte {len(bic)}."
    if not bic[4:6].isalpha():
        return (
            "Les 5e et 6e caractères du BIC doivent être le code du pays en lettres (par"
            " exemple FR)."
        )
    return None


def is_valid_bic(value: str) -> bool:
    """True for a BIC of the right shape (8 or 11 characters, country in letters)."""
    return bic_error(value) is None
