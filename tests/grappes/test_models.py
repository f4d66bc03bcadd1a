"""Referential loaded by migration, and the constraints that must never be false."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from grappes.models import CasfCategory, Departement, FinessCategory, Region, Structure
from tests.factories import GrappeMembershipFactory, OrganisationFactory, StructureFactory

pytestmark = pytest.mark.django_db


def test_referential_is_loaded_by_the_data_migration():
    assert Region.objects.count() == 18
    assert Departement.objects.filter(region__isnull=False).count() == 101
    assert Departement.objects.get(code="2A").region_id == "94"
    assert Departement.objects.get(code="976").region_id == "06"
    assert CasfCategory.objects.count() == 17
    assert FinessCategory.objects.get(code="500").casf_item_id == "6°"
    assert FinessCategory.objects.get(code="355").casf_item_id is None
    assert set(
        Region.objects.filter(reduced_grappe_minimum=True).values_list("code", flat=True)
    ) == {"94", "01", "02", "03", "04", "06"}


def test_structure_finess_is_unique():
    structure = StructureFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Structure.objects.create(
            finess=structure.finess, organisation=structure.organisation, name="Doublon"
        )


@pytest.mark.parametrize("share", [Decimal(0), Decimal("-0.5"), Decimal("1.2")])
def test_membership_share_outside_0_1_is_refused_by_the_database(share):
    with pytest.raises(IntegrityError), transaction.atomic():
        GrappeMembershipFactory(eligible_share=share)


@pytest.mark.parametrize("share", [Decimal("0.0001"), Decimal("0.6"), Decimal(1)])
def test_membership_share_in_0_1_is_accepted(share):
    assert GrappeMembershipFactory(eligible_share=share).pk


def test_model_validation_rejects_a_wrong_finess_key():
    organisation = OrganisationFactory.build(finess="010000017")
    with pytest.raises(ValidationError) as error:
        organisation.full_clean()
    assert "finess" in error.value.message_dict
