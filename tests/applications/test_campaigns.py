"""Ségur exemptions are one thing, the campaign's items (applications/campaigns.py): a new
campaign starts from the previous campaign's, the first from the CASF items flagged as default;
quotes read the campaign's items only."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from applications.campaigns import campaign_create, campaign_segur_exempt_defaults
from applications.models import Campaign
from essms_portal.accounts.models import Role
from funding.services import quote_for
from grappes.models import CasfCategory, FinessCategory
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    CampaignFactory,
    DuiSolutionFactory,
    GrappeMembershipFactory,
    StructureFactory,
    UserFactory,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db

FLAGGED = {"8°", "14°", "15°"}


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True))
    return client


def _items(campaign: Campaign) -> set[str]:
    return set(campaign.segur_exempt_items.values_list("code", flat=True))


def _form_data(page) -> dict[str, object]:
    """What the admin's change form would post as shown: the campaign's fields and its inlines
    (other apps add inlines to the campaign page: their management forms and rows)."""
    form = page.context["adminform"].form
    data: dict[str, object] = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for row in formset.initial_forms:
            for name in row.fields:
                value = row[name].value()
                if value is not None:
                    data[row.add_prefix(name)] = value
    return data


def _post(client, year: int, **extra: object):
    """The admin's add form, as shown but for the year and name, without any exempt item
    unless ``extra`` gives them (the form is prefilled: an empty choice is a choice)."""
    page = client.get(reverse("admin:applications_campaign_add"))
    data = _form_data(page)
    data.pop("segur_exempt_items", None)
    data.update(year=year, name=f"Campagne {year}", **extra)
    return client.post(reverse("admin:applications_campaign_add"), data)


def test_the_first_campaign_created_in_the_admin_gets_the_flagged_items(admin_client):
    response = _post(admin_client, 2023)
    assert response.status_code == 302
    assert _items(Campaign.objects.get(year=2023)) == FLAGGED


def test_a_new_campaign_created_in_the_admin_copies_the_previous_campaigns_items(admin_client):
    previous = CampaignFactory(year=2024)
    previous.segur_exempt_items.set(CasfCategory.objects.filter(code__in=["8°", "9°"]))
    CampaignFactory(year=2021)  # older: not the previous one
    response = _post(admin_client, 2025)
    assert response.status_code == 302
    assert _items(Campaign.objects.get(year=2025)) == {"8°", "9°"}


def test_items_chosen_in_the_admin_are_kept(admin_client):
    CampaignFactory(year=2024)
    fourteen = CasfCategory.objects.get(code="14°")
    _post(admin_client, 2025, segur_exempt_items=[fourteen.pk])
    assert _items(Campaign.objects.get(year=2025)) == {"14°"}


def test_the_add_form_shows_the_items_a_new_campaign_would_get(admin_client):
    previous = CampaignFactory(year=2024)
    previous.segur_exempt_items.set(CasfCategory.objects.filter(code__in=["9°"]))
    page = admin_client.get(reverse("admin:applications_campaign_add")).content.decode()
    nine = CasfCategory.objects.get(code="9°")
    assert f'<option value="{nine.pk}" selected>' in page
    assert "exempté par défaut pour une nouvelle campagne" not in page  # that is the CASF page
    casf = admin_client.get(reverse("admin:grappes_casfcategory_changelist")).content.decode()
    assert "Exempté par défaut pour une nouvelle campagne" in casf


def test_editing_a_campaign_may_remove_every_exemption(admin_client):
    campaign = CampaignFactory(year=2023)
    url = reverse("admin:applications_campaign_change", args=[campaign.pk])
    data = _form_data(admin_client.get(url))
    assert set(data.pop("segur_exempt_items")) == FLAGGED
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert _items(campaign) == set()


def test_the_service_keeps_a_choice_and_defaults_an_empty_one():
    previous = CampaignFactory(year=2023)
    previous.segur_exempt_items.set(CasfCategory.objects.filter(code="15°"))
    empty = campaign_create(campaign=Campaign(year=2024, name="2024"), segur_exempt_items=[])
    assert _items(empty) == {"15°"}
    chosen = campaign_create(
        campaign=Campaign(year=2025, name="2025"),
        segur_exempt_items=CasfCategory.objects.filter(code="8°"),
    )
    assert _items(chosen) == {"8°"}
    with pytest.raises(ValueError, match="new campaign"):
        campaign_create(campaign=chosen)


def test_the_previous_campaign_is_the_nearest_earlier_one():
    for year, code in ((2021, "1°"), (2023, "3°"), (2026, "6°")):
        CampaignFactory(year=year).segur_exempt_items.set(CasfCategory.objects.filter(code=code))
    assert {c.code for c in campaign_segur_exempt_defaults(year=2024)} == {"3°"}
    assert {c.code for c in campaign_segur_exempt_defaults(year=2021)} == FLAGGED
    assert {c.code for c in campaign_segur_exempt_defaults(year=None)} == {"6°"}


# --- Quotes read the campaign's items, never the CASF flag --------------------------------------


def _ahi_dossier(campaign: Campaign):
    """15 EHPAD and a CHRS (item 8°, AHI) whose DUI is not referenced Ségur."""
    application = ApplicationFactory(
        grappe=grappe_with_structures(15), call=CallFactory(campaign=campaign)
    )
    GrappeMembershipFactory(
        grappe=application.grappe,
        structure=StructureFactory(
            organisation=application.grappe.porteur,
            category=FinessCategory.objects.get(code="214"),
        ),
        solution=DuiSolutionFactory(editor="Libre", product="DUI", segur_referenced=False),
    )
    return application


@pytest.mark.parametrize(
    ("campaign_items", "flagged", "blocked"),
    [
        ({"8°", "14°", "15°"}, {"8°", "14°", "15°"}, False),
        ({"14°", "15°"}, {"8°", "14°", "15°"}, True),  # the flag alone exempts nothing
        ({"8°"}, set(), False),  # nor does its absence block
    ],
)
def test_a_quote_honours_the_campaigns_items(campaign_items, flagged, blocked):
    campaign = CampaignFactory(year=2023)
    campaign.segur_exempt_items.set(CasfCategory.objects.filter(code__in=campaign_items))
    CasfCategory.objects.update(segur_exempt=False)
    CasfCategory.objects.filter(code__in=flagged).update(segur_exempt=True)
    codes = {e.code for e in quote_for(application=_ahi_dossier(campaign)).errors}
    assert codes == ({"SEGUR_REQUIRED"} if blocked else set())


# --- The data migration ------------------------------------------------------------------------


def test_the_migration_gives_empty_campaigns_the_defaults_in_year_order():
    migration = importlib.import_module(
        "applications.migrations.0010_eligibility_founding_document_segur_defaults"
    )
    first, middle, last = (CampaignFactory(year=y) for y in (2022, 2023, 2024))
    first.segur_exempt_items.clear()
    middle.segur_exempt_items.set(CasfCategory.objects.filter(code="9°"))
    last.segur_exempt_items.clear()
    migration.give_defaults(apps, None)
    assert (_items(first), _items(middle), _items(last)) == (FLAGGED, {"9°"}, {"9°"})
