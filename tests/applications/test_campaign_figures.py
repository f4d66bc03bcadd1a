"""Campaign figures are data: the home page and the dossier form read them from the campaign."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from applications.dossiers.forms import ApplicationForm
from applications.models import Campaign
from applications.selectors import campaign_current
from funding.money import format_euros
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    CampaignFactory,
    OrganisationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db


def test_home_shows_the_open_calls_campaign_figures(client):
    campaign = CampaignFactory(
        year=2029, acquisition_amount=31_000, procurement_cap=12_345, steering_cap=90_000
    )
    CallFactory(campaign=campaign)
    CampaignFactory(year=2031, acquisition_amount=99_000)  # no open call: not shown
    page = client.get(reverse("home")).content.decode()
    assert format_euros(31_000) in page
    assert f"passation du marché ({format_euros(12_345)})" in page
    assert f"pilotage ({format_euros(90_000)})" in page
    assert format_euros(99_000) not in page
    assert "25 000" not in page


def test_without_open_call_the_latest_campaign_is_shown(client):
    CampaignFactory(year=2027, upgrade_amount=11_000)
    CampaignFactory(year=2028, upgrade_amount=12_000)
    assert campaign_current(on=datetime.date(2020, 1, 1)).year == 2028
    page = client.get(reverse("home")).content.decode()
    assert format_euros(12_000) in page
    assert format_euros(11_000) not in page


def test_home_without_any_campaign_shows_no_figure(client):
    assert not Campaign.objects.exists()
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert 'id="campaign-figures"' not in response.content.decode()


def test_dossier_form_help_texts_follow_the_campaign():
    campaign = CampaignFactory(
        year=2029,
        procurement_cap=17_500,
        steering_cap=80_000,
        hardware_cap=22_000,
        small_gestionnaire_max_essms=9,
    )
    application = ApplicationFactory(call=CallFactory(campaign=campaign))
    organisation = OrganisationFactory()
    form = ApplicationForm(organisations=[organisation], campaign=application.call.campaign)
    assert form.fields["procurement"].help_text == f"Plafond : {format_euros(17_500)} par grappe."
    assert form.fields["steering"].help_text == f"Plafond : {format_euros(80_000)} par grappe."
    assert form.fields[f"hardware_{organisation.pk}"].help_text == (
        f"Plafond : {format_euros(22_000)} par gestionnaire de moins de 10 ESSMS."
    )


def test_dossier_page_and_new_dossier_page_follow_a_changed_campaign(client):
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    user = UserFactory()
    confirmed_member(user, application.grappe.porteur)
    client.force_login(user)
    Campaign.objects.filter(pk=application.call.campaign_id).update(
        steering_cap=70_000, regional_min_essms=12, national_min_essms=60
    )
    page = client.get(reverse("dossiers:detail", args=[application.pk])).content.decode()
    assert f"Plafond : {format_euros(70_000)} par grappe." in page
    assert "100\u202f000" not in page
    page = client.get(reverse("dossiers:create", args=[application.grappe_id])).content.decode()
    assert "(12 à 49 ESSMS ; 8 en Corse et outre-mer)" in page
    assert "(60 ESSMS et plus)" in page
