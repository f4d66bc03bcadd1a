"""A non-Ségur DUI solution is flagged where it is chosen, with the campaign's year (#14.11)."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from applications.models import Campaign
from grappes.models import CasfCategory, DuiSolution, FinessCategory, GrappeMembership
from grappes.segur import segur_policy
from tests.factories import (
    CampaignFactory,
    DuiSolutionFactory,
    GrappeFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
)

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def campaign() -> Campaign:
    campaign = CampaignFactory(year=2026)
    Campaign.objects.filter(pk=campaign.pk).update(segur_required_from_year=2025)
    return campaign


@pytest.fixture
def porteur_page(client):
    grappe = GrappeFactory()
    user = UserFactory()
    confirmed_member(user, grappe.porteur)
    client.force_login(user)
    return grappe


def _add(client, grappe, structure, solution: DuiSolution | None):
    return client.post(
        reverse("organisations:grappe", args=[grappe.pk]),
        {
            "form": "membership",
            "structure": structure.pk,
            "project_type": "acquisition",
            "solution": solution.pk if solution else "",
            "eligible_share": "100",
        },
        follow=True,
    )


def test_the_policy_is_the_current_campaigns(campaign):
    policy = segur_policy()
    assert policy is not None
    assert policy.required_from_year == 2025
    assert policy.exempt_items == frozenset(
        CasfCategory.objects.filter(segur_exempt=True).values_list("code", flat=True)
    )


def test_the_form_says_what_a_non_segur_solution_means_before_it_is_chosen(
    client, campaign, porteur_page
):
    DuiSolutionFactory(editor="Éditeur libre", product="DUI maison", segur_referenced=False)
    page = _page(client.get(reverse("organisations:grappe", args=[porteur_page.pk])))
    assert "Éditeur libre — DUI maison (non référencée Ségur)" in page  # the option says it
    assert (
        "Depuis la campagne 2025, un établissement n'est financé qu'avec une solution "
        "référencée Ségur" in page
    )
    assert "bloquera le dépôt du dossier de la grappe" in page


def test_adding_an_essms_with_a_non_segur_solution_warns_and_the_page_keeps_saying_it(
    client, campaign, porteur_page
):
    structure = StructureFactory(organisation=porteur_page.porteur, name="EHPAD Les Pins")
    solution = DuiSolutionFactory(
        editor="Éditeur libre", product="DUI maison", segur_referenced=False
    )
    page = _page(_add(client, porteur_page, structure, solution))
    assert GrappeMembership.objects.filter(grappe=porteur_page, structure=structure).exists()
    expected = (
        "La solution « Éditeur libre — DUI maison » n'est pas référencée Ségur pour EHPAD Les "
        "Pins : depuis la campagne 2025, un établissement n'est financé qu'avec une solution "
        "référencée Ségur"
    )
    assert page.count(expected) == 2  # the message after adding, and the page's own alert
    page = _page(client.get(reverse("organisations:grappe", args=[porteur_page.pk])))
    assert page.count(expected) == 1


def test_no_solution_is_flagged_too(client, campaign, porteur_page):
    structure = StructureFactory(organisation=porteur_page.porteur, name="EHPAD Les Chênes")
    page = _page(_add(client, porteur_page, structure, None))
    assert "Aucune solution DUI n'est choisie pour EHPAD Les Chênes" in page


def test_a_referenced_solution_or_an_exempt_essms_is_not_flagged(client, campaign, porteur_page):
    referenced = DuiSolutionFactory(segur_referenced=True)
    ehpad = StructureFactory(organisation=porteur_page.porteur, name="EHPAD référencé")
    page = _page(_add(client, porteur_page, ehpad, referenced))
    assert "n'est pas référencée Ségur pour" not in page
    chrs = StructureFactory(
        organisation=porteur_page.porteur,
        name="CHRS exempté",
        category=FinessCategory.objects.get(code="214"),  # AHI (8°): exempt
    )
    unreferenced = DuiSolutionFactory(editor="Autre", product="DUI", segur_referenced=False)
    page = _page(_add(client, porteur_page, chrs, unreferenced))
    assert GrappeMembership.objects.filter(structure=chrs).exists()
    assert "n'est pas référencée Ségur pour" not in page
    assert "Solutions non référencées Ségur" not in page
