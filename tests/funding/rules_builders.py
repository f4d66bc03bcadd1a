"""Small builders of rule inputs shared by the funding tests."""

from __future__ import annotations

from decimal import Decimal

from essms_portal.identifiers import finess_with_key
from funding.referential import default_referential
from funding.rules import (
    CallInput,
    CampaignParameters,
    GestionnaireInput,
    QuoteRequest,
    QuoteResult,
    StructureInput,
    SupportRequests,
    compute_quote,
)

PARAMETERS = CampaignParameters()
REFERENTIAL = default_referential()
GESTIONNAIRE = finess_with_key("75000000")


def finess(index: int, department: str = "75") -> str:
    """A valid FINESS ET number, distinct per index."""
    prefix = department if len(department) == 2 else department[:3]
    if not prefix.isdigit():  # Corsica: 2A/2B numbers carry no Luhn key
        return f"{prefix}{index:07d}"
    return finess_with_key(f"{prefix}{index:0{8 - len(prefix)}d}")


def structure(index: int = 1, **overrides: object) -> StructureInput:
    """An eligible EHPAD in Paris with a Ségur-referenced acquisition project."""
    values: dict[str, object] = {
        "finess": finess(index),
        "category": "500",
        "department": "75",
        "gestionnaire": GESTIONNAIRE,
        "project": "acquisition",
        "segur_referenced": True,
        "eligible_share": Decimal(1),
    }
    values.update(overrides)
    return StructureInput(**values)  # type: ignore[arg-type]


def structures(count: int, *, department: str = "75", start: int = 1) -> list[StructureInput]:
    """``count`` eligible structures of one département."""
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
    return QuoteRequest(
        call=CallInput(scope=scope, region=region, year=year),
        gestionnaires=gestionnaires or (GestionnaireInput(GESTIONNAIRE, len(items)),),
        structures=tuple(items),
        requests=requests or SupportRequests(),
        already_funded=already_funded,
    )


def quote(req: QuoteRequest, parameters: CampaignParameters = PARAMETERS) -> QuoteResult:
    return compute_quote(req, parameters=parameters, referential=REFERENTIAL)


def codes(result: QuoteResult) -> set[str]:
    return {issue.code for issue in result.errors}


def warning_codes(result: QuoteResult) -> set[str]:
    return {issue.code for issue in result.warnings}
