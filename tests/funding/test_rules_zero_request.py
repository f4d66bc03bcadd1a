"""A 0 € support request is no request (domain.md §5b): it gets no warning (issue #15)."""

from __future__ import annotations

import pytest

from essms_portal.identifiers import finess_with_key
from funding.referential import default_referential
from funding.rules import (
    CallInput,
    CampaignParameters,
    GestionnaireInput,
    QuoteRequest,
    StructureInput,
    SupportRequests,
    compute_quote,
)

LARGE = finess_with_key("75000000")  # runs 200 ESSMS: not a small gestionnaire
SMALL = finess_with_key("69000000")
OUTSIDER = finess_with_key("13000000")


def grappe_request(hardware: dict[str, int]) -> QuoteRequest:
    """An eligible regional grappe of 15 Paris EHPAD of LARGE, with SMALL as second member."""
    structures = tuple(
        StructureInput(
            finess=finess_with_key(f"75{i:06d}"),
            category="500",
            department="75",
            gestionnaire=LARGE,
            project="acquisition",
            segur_referenced=True,
        )
        for i in range(1, 16)
    )
    return QuoteRequest(
        call=CallInput(scope="regional", region="11", year=2023),
        gestionnaires=(GestionnaireInput(LARGE, 200), GestionnaireInput(SMALL, 3)),
        structures=structures,
        requests=SupportRequests(hardware=hardware),
    )


@pytest.mark.parametrize(
    ("hardware", "granted", "warnings", "errors"),
    [
        # The dossier form sends 0 for every gestionnaire: a large one asking nothing is silent.
        ({LARGE: 0}, {LARGE: 0}, [], []),
        ({LARGE: 0, SMALL: 0}, {LARGE: 0, SMALL: 0}, [], []),
        ({LARGE: 0, SMALL: 12_000}, {LARGE: 0, SMALL: 12_000}, [], []),
        # Asking something is a request: the large gestionnaire is told why it gets nothing.
        ({LARGE: 1}, {LARGE: 0}, [("HARDWARE_NOT_ELIGIBLE", LARGE)], []),
        ({LARGE: 18_000}, {LARGE: 0}, [("HARDWARE_NOT_ELIGIBLE", LARGE)], []),
        # A negative amount stays an error, and a gestionnaire outside the grappe stays unknown.
        ({LARGE: -1}, {LARGE: 0}, [], [("NEGATIVE_REQUEST", LARGE)]),
        ({OUTSIDER: 0}, {OUTSIDER: 0}, [], [("UNKNOWN_GESTIONNAIRE", OUTSIDER)]),
    ],
)
def test_zero_hardware_request_gets_no_warning(hardware, granted, warnings, errors):
    result = compute_quote(
        grappe_request(hardware),
        parameters=CampaignParameters(),
        referential=default_referential(),
    )
    assert dict(result.supports.hardware_by_gestionnaire) == granted
    assert [(w.code, w.finess) for w in result.warnings] == warnings
    assert [(e.code, e.finess) for e in result.errors] == errors
    assert result.total == 15 * 25_000 + sum(granted.values())
