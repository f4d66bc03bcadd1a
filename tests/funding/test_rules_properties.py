"""Properties of the engine over generated grappes (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from funding.rules import GestionnaireInput, SupportRequests
from tests.funding.rules_builders import GESTIONNAIRE, PARAMETERS, finess, quote, request, structure

OTHER = finess(9_999, "69")

shares = st.decimals(min_value=Decimal("-0.5"), max_value=Decimal("1.5"), places=4)
amounts = st.integers(min_value=-1_000, max_value=300_000)
structure_specs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=60),  # index: repeats make duplicates
        st.sampled_from(["75", "92", "69", "2A", "971"]),
        st.sampled_from(["500", "354", "214", "355", "999"]),
        st.sampled_from(["acquisition", "upgrade", "rental"]),
        st.booleans(),
        shares,
    ),
    max_size=70,
)


@settings(max_examples=200, deadline=None)
@given(
    specs=structure_specs,
    scope=st.sampled_from(["regional", "national"]),
    year=st.sampled_from([2022, 2023]),
    hardware=st.dictionaries(st.sampled_from([GESTIONNAIRE, OTHER]), amounts, max_size=2),
    procurement=amounts,
    steering=amounts,
    essms_count=st.integers(min_value=0, max_value=40),
)
def test_quote_invariants(specs, scope, year, hardware, procurement, steering, essms_count):
    items = [
        structure(
            index,
            finess=finess(index, dept),
            department=dept,
            category=category,
            project=project,
            segur_referenced=segur,
            eligible_share=share,
        )
        for index, dept, category, project, segur, share in specs
    ]
    req = request(
        items,
        scope=scope,
        region="11" if scope == "regional" else None,
        year=year,
        gestionnaires=(GestionnaireInput(GESTIONNAIRE, essms_count),),
        requests=SupportRequests(hardware=hardware, procurement=procurement, steering=steering),
    )
    result = quote(req)

    supports = result.supports
    assert result.total == (
        sum(line.amount for line in result.structures)
        + supports.hardware
        + supports.procurement
        + supports.steering
    )
    for line in result.structures:
        assert isinstance(line.amount, int)
        assert 0 <= line.amount <= line.base_amount
        assert line.base_amount <= max(PARAMETERS.acquisition_amount, PARAMETERS.upgrade_amount)
    for granted in supports.hardware_by_gestionnaire.values():
        assert 0 <= granted <= PARAMETERS.hardware_cap
    assert 0 <= supports.procurement <= PARAMETERS.procurement_cap
    assert 0 <= supports.steering <= PARAMETERS.steering_cap
    assert sum(t.amount for t in result.tranches) == result.total
    assert all(t.amount >= 0 for t in result.tranches)
    assert result.eligible is (not result.errors)
