"""Usage targets on the dashboard (issue #15 §8): per region and sector, the share of funded
ESSMS meeting each target — the settlement rules' verdict, applicability respected — and the
active DUI against the campaign's national target; scoped like the dashboard, in a number of
queries that does not grow with the grants; the page and its links."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from essms_portal.accounts.models import Role
from grants.models import Amendment, Convention, FollowUpParameters, Measurement, UsageIndicator
from grants.reporting import funded_snapshots, number_fr, percent_fr, usage_targets_overview
from grants.selectors import grant_effective_snapshot
from grants.services import convention_countersign, convention_draft
from grappes.models import CasfCategory
from tests.applications.helpers import ars, cnsa_agent
from tests.grants.test_conventions import Grant
from tests.grants.test_second_tranche import measure

pytestmark = pytest.mark.django_db


def countersigned_grant() -> Grant:
    grant = Grant()
    convention_countersign(convention=grant.signed(), by=grant.valideur)
    return grant


@pytest.fixture
def grant(private_storage: Any) -> Grant:
    return countersigned_grant()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_french_figures() -> None:
    assert percent_fr(2, 3) == "66,7\u202f%"
    assert percent_fr(1, 0) == "—" and percent_fr(1, None) == "—"
    assert number_fr(12345) == "12\u202f345" and number_fr(Decimal("1195.50")) == "1\u202f195,5"
    assert number_fr(None) == "—"


def test_shares_per_region_and_sector(grant: Grant) -> None:
    campaign = grant.application.call.campaign
    FollowUpParameters.objects.filter(campaign=campaign).update(national_active_dui_target=1000)
    measure(grant, meeting=10)  # 10 ESSMS reach every target, 5 reach none
    # Neither a pending measurement nor one after the deadline counts.
    first = grant.application.grappe.memberships.order_by("id").first().structure
    dui = UsageIndicator.objects.get(campaign=campaign, code="DUI_ACTIF")
    Measurement.objects.create(
        structure=first,
        indicator=dui,
        value=Decimal(5),
        measured_on=datetime.date(2024, 7, 31),
        source=Measurement.Source.DECLARED,
    )
    Measurement.objects.create(
        structure=first,
        indicator=dui,
        value=Decimal(5),
        measured_on=datetime.date(2025, 1, 31),
        source=Measurement.Source.IMPORTED,
        status=Measurement.Status.VALIDATED,
    )

    overview = usage_targets_overview(user=grant.valideur, campaign=campaign)
    assert [i.code for i in overview.indicators] == ["DUI_ACTIF", "MSSANTE", "DMP"]
    [region] = overview.regions
    assert (region.label, region.funded, region.all_met) == ("Île-de-France", 15, 10)
    assert [(s.concerned, s.met) for s in region.shares] == [(15, 10)] * 3
    assert region.all_met_percent == "66,7\u202f%"
    [sector] = overview.sectors
    assert sector.label == str(CasfCategory.objects.get(code="6°"))
    assert (sector.funded, sector.all_met) == (15, 10)
    assert region.active_dui == overview.total.active_dui == Decimal(10 * 80 + 5 * 79)
    assert overview.national_active_dui_target == 1000
    assert overview.active_dui_percent == "119,5\u202f%"


def test_a_target_counts_only_the_essms_it_applies_to(grant: Grant) -> None:
    campaign = grant.application.call.campaign
    measure(grant, meeting=15)
    Measurement.objects.filter(indicator__code="MSSANTE").delete()
    UsageIndicator.objects.get(campaign=campaign, code="MSSANTE").casf_items.set(
        [CasfCategory.objects.get(code="8°")]
    )
    [region] = usage_targets_overview(user=grant.valideur, campaign=campaign).regions
    assert [(s.concerned, s.met) for s in region.shares] == [(15, 15), (0, 0), (15, 15)]
    assert region.shares[1].percent == "—"
    assert region.all_met == 15  # the rules' verdict: MSSanté is not theirs


def test_only_countersigned_conventions_and_the_users_scope(private_storage: Any) -> None:
    grant = countersigned_grant()
    campaign = grant.application.call.campaign
    drafted = Grant()
    convention_draft(decision=drafted.decision, by=drafted.instructeur)
    assert Convention.objects.filter(status="drafted").count() == 1

    for user in (grant.valideur, cnsa_agent()):
        overview = usage_targets_overview(user=user, campaign=campaign)
        assert overview.total is not None and overview.total.funded == 15, user.role
    # Another region's agent sees its own region's call only: none of Île-de-France's ESSMS.
    other = usage_targets_overview(user=ars(Role.ARS_VALIDEUR, "84"), campaign=campaign)
    assert all(row.label != "Île-de-France" for row in other.regions)
    assert other.total is not None and other.total.funded == 0
    outsider = usage_targets_overview(user=grant.porteur, campaign=campaign)
    assert outsider.regions == () and outsider.total is not None and outsider.total.funded == 0
    assert usage_targets_overview(user=grant.valideur, campaign=None).regions == ()


def test_amended_lines_are_the_funded_ones(grant: Grant) -> None:
    """The amounts in force: the latest validated amendment's, as ``grant_effective_snapshot``
    says — asked set-wise here, so checked to agree with it."""
    convention = Convention.objects.get(decision__application=grant.application)
    campaign = grant.application.call.campaign
    lines = convention.snapshot["lines"]
    now = timezone.now()
    for number, kept, status, at in (
        ("AV-1", 12, Amendment.Status.VALIDATED, now - datetime.timedelta(days=2)),
        ("AV-2", 10, Amendment.Status.VALIDATED, now - datetime.timedelta(days=1)),
        ("AV-3", 3, Amendment.Status.CANCELLED, None),
    ):
        snapshot = {**convention.snapshot, "lines": lines[:kept]}
        Amendment.objects.create(
            convention=convention,
            number=number,
            status=status,
            reason="Sortie d'ESSMS",
            snapshot=snapshot,
            snapshot_sha256="0" * 64,
            drafted_by=grant.instructeur,
            drafted_at=now - datetime.timedelta(days=3),
            validated_by=grant.valideur if at else None,
            validated_at=at,
        )
    [(effective, _call, _grappe)] = funded_snapshots(calls=[grant.application.call_id])
    assert effective == grant_effective_snapshot(convention=convention)
    assert len(effective["lines"]) == 10
    overview = usage_targets_overview(user=grant.valideur, campaign=campaign)
    assert overview.total is not None and overview.total.funded == 10


def test_queries_do_not_grow_with_the_grants(
    private_storage: Any, django_assert_num_queries: Any
) -> None:
    grant = countersigned_grant()
    measure(grant, meeting=5)
    campaign = grant.application.call.campaign
    agent = cnsa_agent()
    with CaptureQueriesContext(connection) as one_grant:
        assert usage_targets_overview(user=agent, campaign=campaign).total.funded == 15
    for _ in range(2):
        measure(countersigned_grant(), meeting=15)
    with django_assert_num_queries(len(one_grant.captured_queries)):
        overview = usage_targets_overview(user=agent, campaign=campaign)
    assert overview.total is not None
    assert (overview.total.funded, overview.total.all_met) == (45, 35)


def test_the_page_and_its_links(grant: Grant) -> None:
    measure(grant, meeting=10)
    agent = client_for(grant.valideur)
    page = agent.get(reverse("grants:targets"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<caption>Part des ESSMS financés qui atteignent chaque cible d'usage" in html
    assert "Île-de-France" in html and "66,7\u202f% (10 sur 15)" in html
    assert "Somme des DUI actifs mesurés" in html
    # The default DUI_ACTIF is a rate: its sum is flagged as no number of DUI.
    assert "la somme de ses mesures n'est pas un nombre de DUI" in html
    year = grant.application.call.campaign.year
    assert agent.get(reverse("grants:targets"), {"campagne": year}).status_code == 200
    assert agent.get(reverse("grants:targets"), {"campagne": 1900}).status_code == 404

    targets_url = reverse("grants:targets")
    assert targets_url in agent.get(reverse("grants:queue")).content.decode()
    assert targets_url in agent.get(reverse("decisions:dashboard")).content.decode()
    assert client_for(grant.porteur).get(targets_url).status_code == 403
