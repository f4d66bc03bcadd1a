"""The JSON contract of ``manage.py funding_quote``: parse and check the input, shape the output.

A wrong *type*, a missing required key, an unknown or repeated key is a shape error
(:class:`QuoteInputError`, one line naming the offending path, e.g.
``structures[3].finess : doit être une chaîne de caractères``). A wrong *value* of the right type
(bad FINESS key, unknown category, project "rental", share 1.2) is left to the rules, which
report it as a quote error. Nothing is normalised except surrounding spaces in strings.

Text that is not valid Unicode (a lone UTF-16 surrogate such as ``"\\ud800"``, which ``json``
accepts) or that holds a control character is a shape error too, in a string value as in a key:
it could not be written out as UTF-8, and no FINESS, code or project name contains one. Values
quoted back in a message are escaped (:func:`shown`), so a message always encodes.

Pure: no Django, no I/O; numbers are read as ``int`` or ``Decimal``, never ``float``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

from .rules import (
    REGIONAL,
    SCOPES,
    CallInput,
    GestionnaireInput,
    Issue,
    QuoteRequest,
    QuoteResult,
    StructureInput,
    SupportRequests,
)

ROOT = "entrée"
TOP_LEVEL_REQUIRED = frozenset({"call", "gestionnaires", "structures"})
TOP_LEVEL_OPTIONAL = frozenset({"requests", "already_funded"})
CALL_REQUIRED = frozenset({"scope", "year"})
CALL_OPTIONAL = frozenset({"region"})
GESTIONNAIRE_REQUIRED = frozenset({"finess", "essms_count"})
STRUCTURE_REQUIRED = frozenset({"finess", "category", "department", "gestionnaire", "project"})
STRUCTURE_OPTIONAL = frozenset(
    {"segur_referenced", "eligible_share", "segur_hospital_referenced", "ght"}
)
REQUESTS_OPTIONAL = frozenset({"hardware", "procurement", "steering"})


# A lone surrogate (U+D800-U+DFFF: not a character, cannot be encoded in UTF-8) or a C0/C1
# control character (U+0000-U+001F, U+007F-U+009F).
FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class QuoteInputError(ValueError):
    """The input is not JSON or not of the contract's shape; the message names the path."""


class _JsonObject(dict[str, object]):
    """A decoded JSON object that remembers keys written twice (json keeps the last silently)."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, object]]) -> _JsonObject:
    """``object_pairs_hook``: build the object and note repeated keys for the shape check."""
    result = _JsonObject(pairs)
    seen: set[str] = set()
    repeated: list[str] = []
    for key, _ in pairs:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    result.duplicates = tuple(repeated)
    return result


def shown(text: str) -> str:
    """``text`` with its forbidden characters written as escapes (``\\ud800``), to quote it."""
    return FORBIDDEN_CHARACTER.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def text_error(text: str) -> str | None:
    """Why ``text`` is refused (its first forbidden character), or None when it is clean."""
    match = FORBIDDEN_CHARACTER.search(text)
    if match is None:
        return None
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return (
            f"caractère invalide U+{code:04X} (demi-paire de substitution isolée) : "
            "le texte doit être de l'Unicode valide"
        )
    return f"caractère de contrôle U+{code:04X} interdit"


# --------------------------------------------------------------------------------------------
# Leaf checks
# --------------------------------------------------------------------------------------------


def _map(value: object, path: str) -> dict[str, object]:
    """A JSON object with no key written twice and no forbidden character in a key."""
    if not isinstance(value, dict):
        raise QuoteInputError(f"{path} : doit être un objet JSON")
    for key in value:
        if error := text_error(key):
            raise QuoteInputError(f"{path} : clé « {shown(key)} » refusée : {error}")
    for key in getattr(value, "duplicates", ()):
        raise QuoteInputError(f"{path}.{key} : champ présent deux fois")
    return value


def _object(
    value: object, path: str, *, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> dict[str, object]:
    """An object with every required key, no unknown key and no repeated key."""
    value = _map(value, path)
    for key in sorted(required - value.keys()):
        raise QuoteInputError(f"{path}.{key} : champ obligatoire manquant")
    for key in sorted(value.keys() - required - optional):
        raise QuoteInputError(f"{path}.{key} : champ inconnu (faute de frappe ?)")
    return value


def _text(value: str, path: str) -> str:
    """``value`` stripped of surrounding spaces, refused if a forbidden character remains."""
    value = value.strip()
    if error := text_error(value):
        raise QuoteInputError(f"{path} : {error}")
    return value


def _string(value: object, path: str) -> str:
    """A string, stripped of surrounding spaces (the only normalisation), valid Unicode."""
    if not isinstance(value, str):
        raise QuoteInputError(f"{path} : doit être une chaîne de caractères")
    return _text(value, path)


def _integer(value: object, path: str) -> int:
    """A JSON integer; booleans and decimals are refused."""
    # bool is an int subclass in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int):
        raise QuoteInputError(f"{path} : doit être un nombre entier")
    return value


def _boolean(value: object, path: str) -> bool:
    """A JSON boolean (true/false, not "yes" or 1)."""
    if not isinstance(value, bool):
        raise QuoteInputError(f"{path} : doit valoir true ou false")
    return value


def _list(value: object, path: str) -> list[object]:
    """A JSON array."""
    if not isinstance(value, list):
        raise QuoteInputError(f"{path} : doit être une liste")
    return value


def _share(value: object, path: str) -> Decimal:
    """A share as a decimal string ("0.6") or JSON number, read as a finite Decimal."""
    if isinstance(value, float):  # only NaN/Infinity literals can arrive as floats
        raise QuoteInputError(f"{path} : doit être un nombre fini")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise QuoteInputError(f'{path} : doit être un nombre décimal (ex. "0.6")')
    try:
        share = Decimal(_text(value, path)) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise QuoteInputError(f"{path} : « {value} » n'est pas un nombre décimal") from None
    if not share.is_finite():
        raise QuoteInputError(f"{path} : doit être un nombre fini")
    return share


# --------------------------------------------------------------------------------------------
# Parts of the contract
# --------------------------------------------------------------------------------------------


def _call(value: object, *, regions: frozenset[str]) -> CallInput:
    """``call``: scope regional/national, a known region for a regional call, an integer year."""
    data = _object(value, "call", required=CALL_REQUIRED, optional=CALL_OPTIONAL)
    scope = _string(data["scope"], "call.scope")
    if scope not in SCOPES:
        raise QuoteInputError('call.scope : doit valoir "regional" ou "national"')
    raw_region = data.get("region")
    region = None if raw_region is None else _string(raw_region, "call.region")
    if scope == REGIONAL and region is None:
        raise QuoteInputError('call.region : obligatoire pour un appel régional (ex. "11")')
    if scope == REGIONAL and region not in regions:
        raise QuoteInputError(f"call.region : « {region} » n'est pas un code de région connu")
    return CallInput(scope=scope, region=region, year=_integer(data["year"], "call.year"))


def _gestionnaire(value: object, path: str) -> GestionnaireInput:
    """One entry of ``gestionnaires``."""
    data = _object(value, path, required=GESTIONNAIRE_REQUIRED)
    return GestionnaireInput(
        finess=_string(data["finess"], f"{path}.finess"),
        essms_count=_integer(data["essms_count"], f"{path}.essms_count"),
    )


def _structure(value: object, path: str) -> StructureInput:
    """One entry of ``structures``; Ségur (both corridors) defaults to false, the share to 1
    and the GHT to none ("")."""
    data = _object(value, path, required=STRUCTURE_REQUIRED, optional=STRUCTURE_OPTIONAL)
    return StructureInput(
        finess=_string(data["finess"], f"{path}.finess"),
        category=_string(data["category"], f"{path}.category"),
        department=_string(data["department"], f"{path}.department"),
        gestionnaire=_string(data["gestionnaire"], f"{path}.gestionnaire"),
        project=_string(data["project"], f"{path}.project"),
        segur_referenced=_boolean(data.get("segur_referenced", False), f"{path}.segur_referenced"),
        eligible_share=_share(data.get("eligible_share", 1), f"{path}.eligible_share"),
        segur_hospital_referenced=_boolean(
            data.get("segur_hospital_referenced", False), f"{path}.segur_hospital_referenced"
        ),
        ght=_string(data.get("ght", ""), f"{path}.ght"),
    )


def _hardware(value: object) -> dict[str, int]:
    """``requests.hardware``: gestionnaire FINESS → whole euros."""
    hardware: dict[str, int] = {}
    for key, amount in _map(value, "requests.hardware").items():
        path = f"requests.hardware.{key}"
        finess = key.strip()
        if finess in hardware:  # " 750000001" and "750000001" name the same gestionnaire
            raise QuoteInputError(f"{path} : gestionnaire présent deux fois")
        hardware[finess] = _integer(amount, path)
    return hardware


def _requests(value: object) -> SupportRequests:
    """``requests``: every key optional, amounts are integers in euros."""
    data = _object(value, "requests", required=frozenset(), optional=REQUESTS_OPTIONAL)
    return SupportRequests(
        hardware=_hardware(data.get("hardware", {})),
        procurement=_integer(data.get("procurement", 0), "requests.procurement"),
        steering=_integer(data.get("steering", 0), "requests.steering"),
    )


def _already_funded(value: object) -> frozenset[str]:
    """``already_funded``: FINESS numbers of ESSMS funded before."""
    items = _list(value, "already_funded")
    return frozenset(_string(item, f"already_funded[{i}]") for i, item in enumerate(items))


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def decode_json(text: str) -> object:
    """Decode JSON text with decimals as ``Decimal``; any failure is a QuoteInputError."""
    try:
        return json.loads(text, parse_float=Decimal, object_pairs_hook=_json_object)
    except json.JSONDecodeError as error:
        raise QuoteInputError(
            f"{ROOT} : ce n'est pas du JSON valide (ligne {error.lineno}, colonne {error.colno})"
        ) from None
    except RecursionError:
        raise QuoteInputError(f"{ROOT} : JSON trop imbriqué") from None
    except ValueError:  # e.g. an integer longer than Python's 4300-digit conversion limit
        raise QuoteInputError(f"{ROOT} : nombre illisible dans le JSON") from None


def quote_request_from_data(data: object, *, regions: frozenset[str]) -> QuoteRequest:
    """Check already-decoded JSON data against the contract and build the QuoteRequest.

    ``regions`` are the region codes a regional call may name.
    """
    top = _object(data, ROOT, required=TOP_LEVEL_REQUIRED, optional=TOP_LEVEL_OPTIONAL)
    call = _call(top["call"], regions=regions)
    gestionnaires = _list(top["gestionnaires"], "gestionnaires")
    structures = _list(top["structures"], "structures")
    return QuoteRequest(
        call=call,
        gestionnaires=tuple(
            _gestionnaire(item, f"gestionnaires[{i}]") for i, item in enumerate(gestionnaires)
        ),
        structures=tuple(_structure(item, f"structures[{i}]") for i, item in enumerate(structures)),
        requests=_requests(top.get("requests", {})),
        already_funded=_already_funded(top.get("already_funded", [])),
    )


def parse_quote_input(text: str, *, regions: frozenset[str]) -> QuoteRequest:
    """Parse the JSON text of the contract into a QuoteRequest, or raise QuoteInputError."""
    return quote_request_from_data(decode_json(text), regions=regions)


def issue_to_json(issue: Issue) -> dict[str, object]:
    """An error or warning as ``{"code", "message", "finess"}``."""
    return {"code": issue.code, "message": issue.message, "finess": issue.finess}


def result_to_json(result: QuoteResult) -> dict[str, object]:
    """The contract's output: amounts as JSON integers in euros, shares as decimal strings."""
    return {
        "eligible": result.eligible,
        "errors": [issue_to_json(issue) for issue in result.errors],
        "warnings": [issue_to_json(issue) for issue in result.warnings],
        "structures": [
            {
                "finess": line.finess,
                "amount": line.amount,
                "base_amount": line.base_amount,
                "project": line.project,
                "category": line.category,
                "casf_item": line.casf_item,
                "region": line.region,
                "eligible_share": str(line.eligible_share),
                "eligible": line.eligible,
            }
            for line in result.structures
        ],
        "supports": {
            "hardware": result.supports.hardware,
            "procurement": result.supports.procurement,
            "steering": result.supports.steering,
        },
        "total": result.total,
        "tranches": [{"label": t.label, "amount": t.amount} for t in result.tranches],
    }
