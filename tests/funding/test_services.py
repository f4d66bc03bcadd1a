"""funding.services maps models to the rules: campaign rows, referential, requests, history."""

from decimal import Decimal

import pytest

from applications.models import HardwareRequest
from funding.services import quote_for
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    CampaignFactory,
    GrappeMembershipFactory,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db


def test_quote_for_a_regional_dossier_uses_campaign_defaults():
    application = ApplicationFactory(
        grappe=grappe_with_structures(15),
        requested_procurement=Decimal(20_000),
        requested_steering=Decimal(50_000),
    )
    HardwareRequest.objects.create(
        application=application, organisation=application.grappe.porteur, amount=Decimal(18_000)
    )
    quote = quote_for(application=application)
    assert quote.eligible, quote.errors
    assert [line.amount for line in quote.structures] == [25_000] * 15
    assert quote.supports.procurement == 15_000
    assert quote.supports.hardware == 0  # the porteur runs 15 ESSMS: not a small gestionnaire
    assert {w.code for w in quote.warnings} == {"CAPPED", "HARDWARE_NOT_ELIGIBLE"}
    assert quote.total == 15 * 25_000 + 15_000 + 50_000


def test_campaign_parameters_are_data():
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    campaign = application.call.campaign
    campaign.acquisition_amount = Decimal(30_000)
    campaign.save()
    assert quote_for(application=application).structures[0].amount == 30_000


def test_structures_funded_in_an_earlier_campaign_are_flagged():
    earlier = ApplicationFactory(
        grappe=grappe_with_structures(15), call=CallFactory(campaign=CampaignFactory(year=2022))
    )
    type(earlier).objects.filter(pk=earlier.pk).update(
        status="accepted", submitted_at=earlier.created_at, decided_at=earlier.created_at
    )
    funded = earlier.grappe.memberships.first().structure
    later = ApplicationFactory(grappe=grappe_with_structures(15))
    GrappeMembershipFactory(grappe=later.grappe, structure=funded)
    codes = {(e.code, e.finess) for e in quote_for(application=later).errors}
    assert ("ALREADY_FUNDED", funded.finess) in codes
