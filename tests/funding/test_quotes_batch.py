"""funding.services.quotes_for: the batch gives quote_for's result for every dossier, in a fixed
number of queries whatever the number of dossiers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application, Call, HardwareRequest
from funding.services import quote_for, quote_request_for, quote_requests_for, quotes_for
from grappes.models import Departement, FinessCategory, GrappeOrganisation, Region
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    CampaignFactory,
    DuiSolutionFactory,
    GrappeMembershipFactory,
    OrganisationFactory,
    StructureFactory,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db


def _accepted(application: Application) -> Application:
    Application.objects.filter(pk=application.pk).update(
        status="accepted", submitted_at=application.created_at, decided_at=application.created_at
    )
    application.refresh_from_db()
    return application


def _hardware(application: Application, organisation, amount: int) -> None:
    HardwareRequest.objects.create(
        application=application, organisation=organisation, amount=Decimal(amount)
    )


def varied_dossiers() -> list[Application]:
    """Dossiers of two campaigns (different parameters), regional and national calls, with
    already-funded ESSMS, hardware for large, small and foreign gestionnaires, upgrades,
    partial shares, non-Ségur and missing solutions, closed ESSMS, a wrong region, an empty
    grappe and a grappe answering two campaigns."""
    earlier_campaign = CampaignFactory(year=2022)
    earlier_campaign.acquisition_amount = Decimal(30_000)
    earlier_campaign.hardware_cap = Decimal(12_000)
    earlier_campaign.save()
    earlier_call = CallFactory(campaign=earlier_campaign)
    paris = CallFactory()
    lyon = CallFactory(region=Region.objects.get(code="84"))
    national = CallFactory(scope=Call.Scope.NATIONAL, region=None)

    # Funded in 2022; the same grappe answers 2023 too (its ESSMS are not "funded elsewhere"
    # for that dossier: the grappe has a dossier in 2023).
    funded = _accepted(ApplicationFactory(grappe=grappe_with_structures(15), call=earlier_call))
    same_grappe_later = ApplicationFactory(grappe=funded.grappe, call=paris)
    # Funded in 2022 only: its ESSMS are "funded elsewhere" for any 2023 dossier.
    funded_only = _accepted(
        ApplicationFactory(grappe=grappe_with_structures(15), call=earlier_call)
    )
    funded_structures = [m.structure for m in funded_only.grappe.memberships.order_by("id")[:2]]

    # A large porteur (16 ESSMS) asking for hardware, two ESSMS funded in 2022.
    large = ApplicationFactory(
        grappe=grappe_with_structures(16),
        call=paris,
        requested_procurement=Decimal(20_000),
        requested_steering=Decimal(150_000),
    )
    for structure in funded_structures:
        GrappeMembershipFactory(grappe=large.grappe, structure=structure)
    _hardware(large, large.grappe.porteur, 18_000)

    # Small gestionnaires: one asks above the cap, one below, one is not in the grappe; an
    # upgrade at half share, a non-Ségur solution, no solution, a closed ESSMS.
    small = ApplicationFactory(grappe=grappe_with_structures(12), call=paris)
    partner = OrganisationFactory()
    GrappeOrganisation.objects.create(grappe=small.grappe, organisation=partner)
    for index in range(3):
        GrappeMembershipFactory(
            grappe=small.grappe,
            structure=StructureFactory(organisation=partner, closed=index == 2),
            project_type="upgrade" if index == 0 else "acquisition",
            eligible_share=Decimal("0.5") if index == 0 else Decimal(1),
            solution=(
                DuiSolutionFactory(product="Hors Ségur", segur_referenced=False)
                if index == 1
                else None
            ),
        )
    _hardware(small, partner, 25_000)
    _hardware(small, small.grappe.porteur, 5_000)
    _hardware(small, OrganisationFactory(), 3_000)
    # An ESSMS of the grappe funded in 2022 that also answers 2023: not flagged (as quote_for).
    GrappeMembershipFactory(
        grappe=small.grappe, structure=funded.grappe.memberships.first().structure
    )

    # ESSMS of Île-de-France in the Lyon call; an ESSMS outside the ESSMS categories.
    wrong_region = ApplicationFactory(grappe=grappe_with_structures(15), call=lyon)
    GrappeMembershipFactory(
        grappe=wrong_region.grappe,
        structure=StructureFactory(
            organisation=wrong_region.grappe.porteur,
            category=FinessCategory.objects.filter(casf_item__isnull=True).first(),
            departement=Departement.objects.get(code="69"),
        ),
    )
    national_dossier = ApplicationFactory(grappe=grappe_with_structures(20), call=national)
    GrappeMembershipFactory(grappe=national_dossier.grappe, structure=funded_structures[0])
    empty = ApplicationFactory(call=paris)
    earlier_draft = ApplicationFactory(grappe=grappe_with_structures(3), call=earlier_call)
    return [
        funded,
        same_grappe_later,
        funded_only,
        large,
        small,
        wrong_region,
        national_dossier,
        empty,
        earlier_draft,
    ]


def test_the_batch_gives_quote_fors_result_for_every_dossier():
    dossiers = varied_dossiers()
    batch = quotes_for(applications=Application.objects.filter(pk__in=[d.pk for d in dossiers]))
    assert set(batch) == {d.pk for d in dossiers}
    for dossier in dossiers:
        fresh = Application.objects.get(pk=dossier.pk)
        assert batch[dossier.pk] == quote_for(application=fresh), dossier.grappe.name
    # The set is varied as it claims: each case the rules distinguish is reached.
    codes = {issue.code for quote in batch.values() for issue in quote.errors + quote.warnings}
    assert {
        "ALREADY_FUNDED",
        "HARDWARE_NOT_ELIGIBLE",
        "CAPPED",
        "UNKNOWN_GESTIONNAIRE",
        "SEGUR_REQUIRED",
        "CATEGORY_NOT_ELIGIBLE",
    } <= codes
    flagged = {
        pk for pk, quote in batch.items() if any(e.code == "ALREADY_FUNDED" for e in quote.errors)
    }
    large, national = dossiers[3], dossiers[6]
    assert flagged == {large.pk, national.pk}
    assert batch[dossiers[0].pk].structures[0].amount == 30_000  # the 2022 parameters
    assert batch[dossiers[1].pk].structures[0].amount == 25_000  # the 2023 ones
    assert batch[dossiers[4].pk].supports.hardware_by_gestionnaire  # small ones got hardware


def test_the_batch_requests_equal_the_per_dossier_ones_but_for_gestionnaires_order():
    dossiers = varied_dossiers()
    requests = quote_requests_for(applications=dossiers)
    for dossier in dossiers:
        single = quote_request_for(application=dossier)
        batch = requests[dossier.pk]
        assert set(batch.gestionnaires) == set(single.gestionnaires)
        assert (batch.call, batch.structures, batch.requests, batch.already_funded) == (
            single.call,
            single.structures,
            single.requests,
            single.already_funded,
        )


def _dossiers(count: int) -> list[Application]:
    """``count`` dossiers of the 2023 campaign with hardware, a partner and funded ESSMS."""
    earlier = _accepted(
        ApplicationFactory(
            grappe=grappe_with_structures(3),
            call=CallFactory(campaign=CampaignFactory(year=2022)),
        )
    )
    shared = earlier.grappe.memberships.first().structure
    dossiers = []
    for index in range(count):
        application = ApplicationFactory(
            grappe=grappe_with_structures(2),
            call=CallFactory(region=Region.objects.get(code="84")) if index % 2 else CallFactory(),
        )
        GrappeMembershipFactory(grappe=application.grappe, structure=shared)
        partner = OrganisationFactory()
        GrappeOrganisation.objects.create(grappe=application.grappe, organisation=partner)
        _hardware(application, partner, 1_000)
        dossiers.append(application)
    return dossiers


@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_batch_runs_a_fixed_number_of_queries_whatever_n(count):
    pks = [d.pk for d in _dossiers(count)]
    applications = list(Application.objects.filter(pk__in=pks))
    with CaptureQueriesContext(connection) as queries:
        quotes = quotes_for(applications=applications)
    assert len(quotes) == count
    # calls, campaigns, porteurs, hardware, memberships, grappes' organisations, their ESSMS
    # counts, funded memberships, the funded grappes' campaigns, referential x3, exempt items.
    assert len(queries) == 13, [q["sql"] for q in queries.captured_queries]


def test_relations_loaded_by_the_caller_are_not_read_again():
    pks = [d.pk for d in _dossiers(4)]
    applications = list(Application.objects.filter(pk__in=pks).select_related("call__campaign"))
    with CaptureQueriesContext(connection) as queries:
        quotes_for(applications=applications)
    assert len(queries) == 11


def test_no_dossier_no_query():
    with CaptureQueriesContext(connection) as queries:
        assert quotes_for(applications=[]) == {}
    assert len(queries) == 0
