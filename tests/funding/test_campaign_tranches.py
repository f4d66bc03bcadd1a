"""Issue #13: the payment schedule of a decision comes from the campaign row alone (no query for
the campaign's Ségur-exempt items, which only quotes need) and is the rules' schedule."""

from __future__ import annotations

import pytest

from funding.rules import tranches
from funding.services import campaign_parameters, campaign_tranches
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("percent", "total"), [(50, 375_000), (30, 100_001), (100, 7)])
def test_the_schedule_is_the_rules_one_without_reading_the_segur_items(
    django_assert_num_queries, percent, total
):
    campaign = CampaignFactory(year=2030, first_tranche_percent=percent)
    assert campaign.segur_exempt_items.exists()  # the factory's exempt items: not needed here
    expected = tranches(total, campaign_parameters(campaign=campaign))

    with django_assert_num_queries(0):
        schedule = campaign_tranches(campaign=campaign, total=total)

    assert schedule == expected
    assert sum(tranche.amount for tranche in schedule) == total
    assert schedule[0].amount == total * percent // 100
