"""The dashboard: amounts per call in the user's scope, ESSMS per sector, accessible charts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from applications.models import Campaign, HardwareRequest
from applications.reporting.dashboard import bar_chart, dashboard_build
from applications.workflow import Status
from essms_portal.accounts.models import Role
from funding.services import quote_for
from grappes.models import GrappeMembership
from tests.applications.helpers import (
    ars,
    cnsa_agent,
    decided_dossier,
    roomy_call,
    submitted_dossier,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]


def test_figures_per_call_requested_proposed_accepted_and_consumption():
    call = roomy_call()
    # Requested = the exact quote of each dossier (after caps and eligibility), as quote_for.
    submitted, _ = submitted_dossier(call=call)
    membership = GrappeMembership.objects.filter(grappe=submitted.grappe).first()
    GrappeMembership.objects.filter(pk=membership.pk).update(
        project_type="upgrade", eligible_share=Decimal("0.5")
    )
    submitted.requested_steering = Decimal(120_000)  # above the cap: capped to 100 000
    submitted.save(update_fields=["requested_steering"])
    HardwareRequest.objects.create(
        application=submitted, organisation=submitted.grappe.porteur, amount=Decimal(7_000)
    )
    # The porteur runs 15 ESSMS: no hardware for a large gestionnaire.
    submitted_quote = 14 * 25_000 + 10_000 // 2 + 100_000
    accepted = decided_dossier(call=call)
    rejected = decided_dossier("reject", call=call)

    board = dashboard_build(user=cnsa_agent(), campaign=Campaign.objects.get())
    row = next(r for r in board.rows if r.call == call)

    proposed = lambda a: int(sum(p.proposed for p in a.proposed_amounts.all()))  # noqa: E731
    assert row.dossiers == 3
    assert quote_for(application=submitted).total == submitted_quote
    assert row.requested == sum(
        quote_for(application=a).total for a in (submitted, accepted, rejected)
    )
    assert row.accepted == proposed(accepted)
    assert row.proposed == 0
    assert row.consumption == (Decimal(proposed(accepted) * 100) / call.envelope).quantize(
        Decimal("0.1")
    )
    assert board.sector_counts[call.pk] == {"6°": 45}
    assert board.sector_totals == {"6°": 45}
    assert [s.code for s in board.sectors] == ["6°"]


def test_drafts_and_withdrawn_dossiers_do_not_count():
    call = roomy_call()
    decided_dossier(call=call)
    from tests.factories import ApplicationFactory, grappe_with_structures

    ApplicationFactory(grappe=grappe_with_structures(15), call=call)  # a draft
    board = dashboard_build(user=cnsa_agent(), campaign=Campaign.objects.get())
    row = next(r for r in board.rows if r.call == call)
    assert row.dossiers == 1
    assert board.sector_totals == {"6°": 15}


def test_ars_agents_see_their_region_cnsa_every_call():
    paris = decided_dossier()
    lyon = decided_dossier(region="84")
    campaign = Campaign.objects.get()
    ars_board = dashboard_build(user=ars(Role.ARS_VALIDEUR), campaign=campaign)
    assert [r.call for r in ars_board.rows] == [paris.call]
    national = dashboard_build(user=cnsa_agent(), campaign=campaign)
    assert {paris.call, lyon.call} <= {r.call for r in national.rows}
    assert national.totals.accepted == sum(r.accepted for r in national.rows)


def test_bar_chart_geometry_scales_to_the_largest_value():
    chart = bar_chart(
        slug="t",
        title="Titre",
        description="Description",
        series=("A", "B"),
        groups=[("Un", (100, 50)), ("Deux", (0, 25))],
        width=500,
        label_width=100,
        text_room=110,
    )
    widths = [bar.width for group in chart.groups for bar in group.bars]
    assert widths[0] == 500 - 100 - 110
    assert widths[1] == widths[0] // 2
    assert widths[2] == 0
    assert chart.groups[1].bars[0].y > chart.groups[0].bars[1].y
    assert chart.groups[0].bars[0].text == "100"


def test_dashboard_page_has_accessible_svg_charts_and_the_numbers_in_tables(client):
    application = decided_dossier()
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    response = client.get(reverse("decisions:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<svg class="portal-chart" role="img"') == 2
    assert '<title id="chart-montants-title">' in page
    assert '<desc id="chart-secteurs-desc">' in page
    assert "<caption>Montants par appel (en euros)</caption>" in page
    accepted = int(sum(p.proposed for p in application.proposed_amounts.all()))
    assert f"{accepted:,}".replace(",", "\u202f") in page  # narrow no-break space
    assert application.status == Status.ACCEPTED


def test_dashboard_of_an_unknown_campaign_is_404(client):
    client.force_login(cnsa_agent())
    assert client.get(reverse("decisions:dashboard"), {"campagne": "1999"}).status_code == 404
