"""The dashboard's cached "requested" amounts: equal to a direct batch computation, and never
stale after a change of a submitted dossier made through the services (a transition, an update
of the requests): ``essms_portal.quotes_version`` is bumped once the change commits."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from applications.dossiers.services import application_update
from applications.instruction.services import complement_request
from applications.models import Application, Call, Campaign
from applications.reporting.dashboard import _sector_counts, dashboard_build
from applications.workflow import NOT_SUBMITTED, Action, Status, transition
from essms_portal.accounts.models import Role
from funding.services import quote_for, quotes_for
from tests.applications.helpers import (
    ars,
    cnsa_agent,
    decided_dossier,
    roomy_call,
    submitted_dossier,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]


def _requested_by_call() -> dict[int, int]:
    board = dashboard_build(user=cnsa_agent(), campaign=Campaign.objects.get())
    return {row.call.pk: row.requested for row in board.rows}


def _direct_by_call() -> dict[int, int]:
    dossiers = list(
        Application.objects.exclude(status__in=NOT_SUBMITTED).select_related("call__campaign")
    )
    quotes = quotes_for(applications=dossiers)
    totals: dict[int, int] = {}
    for dossier in dossiers:
        totals[dossier.call_id] = totals.get(dossier.call_id, 0) + quotes[dossier.pk].total
    return totals


def _nonzero(figures: dict[int, int]) -> dict[int, int]:
    return {call: total for call, total in figures.items() if total}


def test_requested_equals_a_direct_batch_computation_cold_and_warm():
    call = roomy_call()
    submitted_dossier(call=call)
    decided_dossier(call=call)
    decided_dossier(region="84")

    cold = _requested_by_call()
    warm = _requested_by_call()

    direct = _direct_by_call()
    assert len(direct) == 2 and all(direct.values())
    assert _nonzero(cold) == direct
    assert warm == cold
    board = dashboard_build(user=cnsa_agent(), campaign=Campaign.objects.get())
    assert board.sector_counts == _sector_counts(Call.objects.all())
    assert board.sector_counts[call.pk]


def test_an_ars_view_then_a_cnsa_view_compute_each_dossier_once_and_agree():
    submitted_dossier()
    decided_dossier(region="84")
    campaign = Campaign.objects.get()
    ars_board = dashboard_build(user=ars(Role.ARS_VALIDEUR), campaign=campaign)
    national = _requested_by_call()
    assert _nonzero(national) == _direct_by_call()
    [ars_row] = ars_board.rows
    assert national[ars_row.call.pk] == ars_row.requested


def test_an_update_of_the_requests_on_a_complement_requested_dossier_shows_at_once(
    django_capture_on_commit_callbacks,
):
    application, porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    with django_capture_on_commit_callbacks(execute=True):
        transition(application=application, action=Action.TAKE, by=instructeur)
        complement_request(
            application=application,
            by=instructeur,
            message="Devis ?",
            expected_items="Devis",
            deadline=datetime.date(2099, 1, 1),
        )
    application.refresh_from_db()
    assert application.status == Status.COMPLEMENT_REQUESTED
    before = _requested_by_call()[application.call_id]
    assert before == quote_for(application=application).total

    with django_capture_on_commit_callbacks(execute=True):
        application_update(
            application=application,
            by=porteur,
            procurement=0,
            steering=20_000,
            justification="Pilotage réduit",
            hardware={},
            expected_version=application.version,
        )

    after = _requested_by_call()[application.call_id]
    assert after == quote_for(application=application).total
    assert after != before


def test_a_withdrawal_leaves_the_figures_at_once(django_capture_on_commit_callbacks):
    application, porteur = submitted_dossier()
    board = dashboard_build(user=cnsa_agent(), campaign=Campaign.objects.get())
    assert board.sector_counts and board.totals and board.totals.requested
    with django_capture_on_commit_callbacks(execute=True):
        transition(application=application, action=Action.WITHDRAW, by=porteur)
    board = dashboard_build(user=cnsa_agent(), campaign=Campaign.objects.get())
    assert board.sector_counts == {}
    assert board.totals is not None and board.totals.requested == 0


def test_a_transition_renews_amounts_cached_before_it(django_capture_on_commit_callbacks):
    application, _porteur = submitted_dossier()
    before = _requested_by_call()[application.call_id]
    # A write outside the services (as in the admin) bumps nothing: the cached amount stays,
    # which shows the page reads the cache ...
    Application.objects.filter(pk=application.pk).update(requested_steering=Decimal(20_000))
    assert _requested_by_call()[application.call_id] == before
    # ... until the next transition of any dossier commits.
    with django_capture_on_commit_callbacks(execute=True):
        transition(application=application, action=Action.TAKE, by=ars(Role.ARS_INSTRUCTEUR))
    application.refresh_from_db()
    after = _requested_by_call()[application.call_id]
    assert after == quote_for(application=application).total
    assert after != before


def test_the_page_says_when_the_amounts_were_computed(client):
    submitted_dossier()
    client.force_login(cnsa_agent())
    response = client.get(reverse("decisions:dashboard"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Montants demandés calculés le " in text
    assert "actualisés à chaque changement de dossier et au plus tard toutes les 10 minutes" in text


def test_atlas_aggregates_are_cached_and_never_stale_after_a_decision(
    django_capture_on_commit_callbacks,
):
    """The atlas's per-département aggregates are read from the cache on the second view, and
    a dossier that becomes funded (a transition, bumping the version on commit) shows at once."""
    from applications.reporting.atlas import atlas_figures

    with django_capture_on_commit_callbacks(execute=True):
        decided_dossier()
    agent = cnsa_agent()
    campaign = Campaign.objects.get()
    first = atlas_figures(user=agent, campaign=campaign)
    again = atlas_figures(user=agent, campaign=campaign)
    assert again.rows == first.rows
    funded_before = sum(row.funded_essms for row in first.rows)
    assert funded_before == 15

    with django_capture_on_commit_callbacks(execute=True):
        decided_dossier()
    after = atlas_figures(user=agent, campaign=campaign)
    assert sum(row.funded_essms for row in after.rows) == funded_before + 15
    assert sum(row.amount for row in after.rows) > sum(row.amount for row in first.rows)


def test_issuing_a_decision_keeps_the_cached_figures_which_stay_exact(
    django_capture_on_commit_callbacks,
):
    """NOTIFY moves a dossier from accepted to notified, both funded: no cached figure changes,
    so the version is kept (a campaign's decisions issued one after the other must not leave the
    dashboard cold after each); and the figures read from the cache still equal a direct
    computation and the atlas's funded ESSMS."""
    from applications.decisions.services import decision_issue
    from applications.reporting.atlas import atlas_figures
    from essms_portal.quotes_version import quotes_version

    with django_capture_on_commit_callbacks(execute=True):
        accepted = decided_dossier()
        decided_dossier()
    agent = cnsa_agent()
    campaign = Campaign.objects.get()
    cached = _requested_by_call()
    funded = sum(row.funded_essms for row in atlas_figures(user=agent, campaign=campaign).rows)
    version = quotes_version()
    with django_capture_on_commit_callbacks(execute=True):
        decision_issue(application=accepted, by=agent)
    assert Application.objects.get(pk=accepted.pk).status == Status.NOTIFIED
    assert quotes_version() == version
    assert _nonzero(_requested_by_call()) == _nonzero(cached) == _nonzero(_direct_by_call())
    after = sum(row.funded_essms for row in atlas_figures(user=agent, campaign=campaign).rows)
    assert after == funded == 30
    # Any other transition still renews the version.
    with django_capture_on_commit_callbacks(execute=True):
        submitted_dossier()
    assert quotes_version() != version
