"""The JSON contract of ``manage.py funding_quote``: parse and check the input, shape the output.

A wrong *type* or an unknown key is a shape error (:class:`QuoteInputError`, exit 2); a wrong
*value* of the right type (bad FINESS key, unknown category, project "rental", share 1.2) is
left to the rules, which report it as a quote error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .rules import (
    NATIONAL,
    REGIONAL,
    CallInput,
    GestionnaireInput,
    QuoteRequest,
    QuoteResult,
    StructureInput,
    SupportRequests,
)


class QuoteInputError(ValueError):
    """The input is not JSON or not of the contract's shape; the message names the path."""


def _object(value: Any, path: str, *, required: set[str], optional: set[str]) -> dict[str, Any]:
    """Check that ``value`` is an object with the required keys and no unknown key."""
    if not isinstance(value, dict):
        raise QuoteInputError(f"{path} : doit être un objet JSON")
    missing = sorted(required - value.keys())
    if missing:
        raise QuoteInputError(f"{path}.{missing[0]} : champ obligatoire manquant")
    unknown = sorted(value.keys() - required - optional)
    if unknown:
        raise QuoteInputError(f"{path}.{unknown[0]} : champ inconnu")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise QuoteInputError(f"{path} : doit être une chaîne de caractères")
    return value.strip()


def _integer(value: Any, path: str) -> int:
    # bool is an int subclass in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int):
        raise QuoteInputError(f"{path} : doit être un nombre entier")
    return int(value)


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise QuoteInputError(f"{path} : doit être true ou false")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise QuoteInputError(f"{path} : doit être une liste")
    return value


def _share(value: Any, path: str) -> Decimal:
    """A share as a decimal string or JSON number (parsed as Decimal, never float)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise QuoteInputError(f'{path} : doit être un nombre décimal (ex. "0.6")')
    try:
        share = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise QuoteInputError(f"{path} : « {value} » n'est pas un nombre décimal") from None
    if not share.is_finite():
        raise QuoteInputError(f"{path} : doit être un nombre fini")
    return share


def _call(value: Any, regions: frozenset[str]) -> CallInput:
    data = _object(value, "call", required={"scope", "year"}, optional={"region"})
    scope = _string(data["scope"], "call.scope")
    if scope not in (REGIONAL, NATIONAL):
        raise QuoteInputError('call.scope : doit valoir "regional" ou "national"')
    region = data.get("region")
    if region is not None:
        region = _string(region, "call.region")
    if scope == REGIONAL and region not in regions:
        raise QuoteInputError("call.region : code de région INSEE inconnu ou manquant")
    return CallInput(scope=scope, region=region, year=_integer(data["year"], "call.year"))


def _gestionnaire(value: Any, path: str) -> GestionnaireInput:
    data = _object(value, path, required={"finess", "essms_count"}, optional=set())
    return GestionnaireInput(
        finess=_string(data["finess"], f"{path}.finess"),
        essms_count=_integer(data["essms_count"], f"{path}.essms_count"),
    )


STRUCTURE_KEYS = {"finess", "category", "department", "gestionnaire", "project"}


def _structure(value: Any, path: str) -> StructureInput:
    data = _object(
        value, path, required=STRUCTURE_KEYS, optional={"segur_referenced", "eligible_share"}
    )
    return StructureInput(
        finess=_string(data["finess"], f"{path}.finess"),
        category=_string(data["category"], f"{path}.category"),
        department=_string(data["department"], f"{path}.department"),
        gestionnaire=_string(data["gestionnaire"], f"{path}.gestionnaire"),
        project=_string(data["project"], f"{path}.project"),
        segur_referenced=_boolean(data.get("segur_referenced", False), f"{path}.segur_referenced"),
        eligible_share=_share(data.get("eligible_share", "1"), f"{path}.eligible_share"),
    )


def _requests(value: Any) -> SupportRequests:
    data = _object(
        value, "requests", required=set(), optional={"hardware", "procurement", "steering"}
    )
    hardware_raw = data.get("hardware", {})
    if not isinstance(hardware_raw, dict):
        raise QuoteInputError("requests.hardware : doit être un objet JSON")
    hardware = {
        _string(key, "requests.hardware"): _integer(amount, f"requests.hardware.{key}")
        for key, amount in hardware_raw.items()
    }
    return SupportRequests(
        hardware=hardware,
        procurement=_integer(data.get("procurement", 0), "requests.procurement"),
        steering=_integer(data.get("steering", 0), "requests.steering"),
    )


def parse_quote_input(text: str, *, regions: frozenset[str]) -> QuoteRequest:
    """Parse the JSON text of the contract into a QuoteRequest, or raise QuoteInputError."""
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise QuoteInputError(
            f"entrée : JSON invalide (ligne {error.lineno}, colonne {error.colno})"
        ) from None
    except RecursionError:
        raise QuoteInputError("entrée : JSON trop imbriqué") from None
    data = _object(
        raw,
        "entrée",
        required={"call", "gestionnaires", "structures"},
        optional={"requests", "already_funded"},
    )
    gestionnaires = _list(data["gestionnaires"], "gestionnaires")
    structures = _list(data["structures"], "structures")
    funded = _list(data.get("already_funded", []), "already_funded")
    return QuoteRequest(
        call=_call(data["call"], regions),
        gestionnaires=tuple(
            _gestionnaire(g, f"gestionnaires[{i}]") for i, g in enumerate(gestionnaires)
        ),
        structures=tuple(_structure(s, f"structures[{i}]") for i, s in enumerate(structures)),
        requests=_requests(data.get("requests", {})),
        already_funded=frozenset(_string(f, f"already_funded[{i}]") for i, f in enumerate(funded)),
    )


def _issues(issues: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{"code": i.code, "message": i.message, "finess": i.finess} for i in issues]


def result_to_json(result: QuoteResult) -> dict[str, Any]:
    """The contract's output: amounts as integers in euros."""
    return {
        "eligible": result.eligible,
        "errors": _issues(result.errors),
        "warnings": _issues(result.warnings),
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


def known_regions(mapping: Mapping[str, str | None]) -> frozenset[str]:
    """Region codes present in a département → region mapping."""
    return frozenset(region for region in mapping.values() if region is not None)
