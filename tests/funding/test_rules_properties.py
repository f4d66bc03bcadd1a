"""Properties of the funding engine over generated grappes and campaigns (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

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

REFERENTIAL = default_referential()
SMALL = finess_with_key("75000000")
LARGE = finess_with_key("69000000")
OUTSIDER = finess_with_key("13000000")  # never listed among the grappe's gestionnaires


def finess(index: int, department: str) -> str:
    """A FINESS ET number for ``department``; Corsican numbers carry no key."""
    if department in ("2A", "2B"):
        return f"{department}{index:07d}"
    return finess_with_key(f"{department}{index:0{8 - len(department)}d}")


# Valid and invalid values side by side, so that eligible and ineligible quotes both appear.
shares = st.one_of(
    st.decimals(min_value=Decimal("-0.5"), max_value=Decimal("1.5"), places=4),
    st.sampled_from([Decimal(1), Decimal(1) / Decimal(3), Decimal("0." + "9" * 40)]),
    st.decimals(allow_nan=True, allow_infinity=True),
)
amounts = st.integers(min_value=-1_000, max_value=300_000)
structure_specs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=60),  # index: repeats make duplicates
        st.sampled_from(["75", "92", "69", "2A", "971", "975", "00"]),
        st.sampled_from(["500", "354", "214", "340", "355", "999"]),
        st.sampled_from(["acquisition", "upgrade", "rental"]),
        st.sampled_from([SMALL, LARGE, OUTSIDER]),
        st.booleans(),
        shares,
    ),
    max_size=70,
)
parameters_strategy = st.builds(
    CampaignParameters,
    acquisition_amount=st.integers(min_value=0, max_value=60_000),
    upgrade_amount=st.integers(min_value=0, max_value=30_000),
    hardware_cap=st.integers(min_value=0, max_value=40_000),
    small_gestionnaire_max_essms=st.integers(min_value=0, max_value=30),
    procurement_cap=st.integers(min_value=0, max_value=30_000),
    steering_cap=st.integers(min_value=0, max_value=200_000),
    regional_min_essms=st.integers(min_value=0, max_value=20),
    reduced_min_essms=st.integers(min_value=0, max_value=10),
    first_tranche_percent=st.integers(min_value=0, max_value=100),
)


def build_request(
    specs: list[tuple[int, str, str, str, str, bool, Decimal]],
    *,
    scope: str,
    year: int,
    counts: tuple[int, int],
    hardware: dict[str, int],
    procurement: int,
    steering: int,
) -> QuoteRequest:
    """A request from generated ESSMS specs, with a small-or-not and a second gestionnaire."""
    items = tuple(
        StructureInput(
            finess=finess(index, department),
            category=category,
            department=department,
            gestionnaire=gestionnaire,
            project=project,
            segur_referenced=segur,
            eligible_share=share,
        )
        for index, department, category, project, gestionnaire, segur, share in specs
    )
    return QuoteRequest(
        call=CallInput(scope=scope, region="11" if scope == "regional" else None, year=year),
        gestionnaires=(GestionnaireInput(SMALL, counts[0]), GestionnaireInput(LARGE, counts[1])),
        structures=items,
        requests=SupportRequests(hardware=hardware, procurement=procurement, steering=steering),
    )


def assert_invariants(result: QuoteResult, parameters: CampaignParameters) -> None:
    """Totals add up, nothing exceeds its cap, every amount is a non-negative int."""
    supports = result.supports
    assert result.total == (
        sum(line.amount for line in result.structures)
        + supports.hardware
        + supports.procurement
        + supports.steering
    )
    for line in result.structures:
        assert type(line.amount) is int and type(line.base_amount) is int
        assert 0 <= line.amount <= line.base_amount
        assert line.base_amount in (0, parameters.acquisition_amount, parameters.upgrade_amount)
        if not line.eligible:
            assert line.amount == 0
    for granted in supports.hardware_by_gestionnaire.values():
        assert type(granted) is int
        assert 0 <= granted <= parameters.hardware_cap
    assert supports.hardware == sum(supports.hardware_by_gestionnaire.values())
    assert 0 <= supports.procurement <= parameters.procurement_cap
    assert 0 <= supports.steering <= parameters.steering_cap
    assert type(result.total) is int and result.total >= 0
    assert sum(t.amount for t in result.tranches) == result.total
    assert all(type(t.amount) is int and t.amount >= 0 for t in result.tranches)
    assert result.eligible is (not result.errors)


@settings(max_examples=200, deadline=None)
@given(
    specs=structure_specs,
    scope=st.sampled_from(["regional", "national"]),
    year=st.sampled_from([2022, 2023]),
    counts=st.tuples(st.integers(0, 14), st.integers(15, 60)),
    hardware=st.dictionaries(st.sampled_from([SMALL, LARGE, OUTSIDER]), amounts, max_size=3),
    procurement=amounts,
    steering=amounts,
    parameters=st.one_of(st.just(CampaignParameters()), parameters_strategy),
)
def test_quote_invariants(specs, scope, year, counts, hardware, procurement, steering, parameters):
    req = build_request(
        specs,
        scope=scope,
        year=year,
        counts=counts,
        hardware=hardware,
        procurement=procurement,
        steering=steering,
    )
    result = compute_quote(req, parameters=parameters, referential=REFERENTIAL)
    assert_invariants(result, parameters)
    assert result.essms_count == len({s.finess for s in req.structures})
    assert len(result.structures) == len(req.structures)


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=0, max_value=10**12), percent=st.integers(0, 100))
def test_tranches_split_any_total(total, percent):
    # A grappe whose only amount is its procurement, under a cap high enough to reach any total.
    parameters = CampaignParameters(first_tranche_percent=percent, procurement_cap=10**12)
    req = QuoteRequest(
        call=CallInput(scope="national", region=None, year=2023),
        gestionnaires=(),
        structures=(),
        requests=SupportRequests(procurement=total),
    )
    result = compute_quote(req, parameters=parameters, referential=REFERENTIAL)
    assert result.total == total
    first, second = result.tranches
    assert first.amount == total * percent // 100
    assert first.amount + second.amount == result.total
