"""What a grappe and its ESSMS declare for eligibility (issue #15, domain.md §5b): the grappe's
legal form, set by its porteur; an ESSMS's GHT, set by the programme team, which lifts the Ségur
warning for a hospital-corridor solution."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from grappes import services
from grappes.models import DuiSolution, Grappe, GrappeOrganisation, LegalForm
from grappes.segur import segur_warning
from tests.dbstate import assert_unchanged, db_state
from tests.factories import (
    ApplicationFactory,
    CampaignFactory,
    DuiSolutionFactory,
    GrappeFactory,
    GrappeMembershipFactory,
    OrganisationFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
)

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def porteur(client):
    grappe = GrappeFactory()
    user = UserFactory()
    confirmed_member(user, grappe.porteur)
    client.force_login(user)
    return grappe, user


# --- Legal form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legal_form", "document"),
    [
        (LegalForm.GCSMS, "la convention constitutive du GCSMS"),
        (LegalForm.COOPERATION_GROUP, "les statuts du groupement"),
        (LegalForm.CONVENTION, "la convention de grappe signée"),
    ],
)
def test_creating_a_grappe_declares_its_legal_form(client, legal_form, document):
    organisation = OrganisationFactory()
    user = UserFactory()
    confirmed_member(user, organisation)
    client.force_login(user)
    response = client.post(
        reverse("organisations:grappe_create", args=[organisation.pk]),
        {"name": "Grappe du Val", "legal_form": legal_form},
        follow=True,
    )
    grappe = Grappe.objects.get(name="Grappe du Val")
    assert grappe.legal_form == legal_form
    assert grappe.founding_document == document
    assert f"pièce obligatoire du dossier : {document}" in _page(response)


def test_the_creation_form_offers_the_three_forms_with_the_convention_preselected(client):
    organisation = OrganisationFactory()
    user = UserFactory()
    confirmed_member(user, organisation)
    client.force_login(user)
    page = _page(client.get(reverse("organisations:grappe_create", args=[organisation.pk])))
    for label in LegalForm.labels:
        assert label in page
    assert 'value="convention" id="id_legal_form_2" required checked' in page


def test_an_unknown_legal_form_is_a_field_error_and_creates_nothing(client):
    organisation = OrganisationFactory()
    user = UserFactory()
    confirmed_member(user, organisation)
    client.force_login(user)
    before = db_state()
    response = client.post(
        reverse("organisations:grappe_create", args=[organisation.pk]),
        {"name": "Grappe du Val", "legal_form": "association"},
    )
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in _page(response)
    assert_unchanged(before)


def test_the_service_refuses_an_unknown_legal_form():
    organisation = OrganisationFactory()
    user = UserFactory()
    confirmed_member(user, organisation)
    before = db_state()
    with pytest.raises(services.ServiceError) as refused:
        services.grappe_create(porteur=organisation, by=user, name="G", legal_form="sarl")
    assert refused.value.field == "legal_form"
    assert_unchanged(before)


def test_the_porteur_changes_the_legal_form_on_the_grappe_page(client, porteur):
    grappe, _user = porteur
    response = client.post(
        reverse("organisations:grappe", args=[grappe.pk]),
        {"form": "legal_form", "legal_form": LegalForm.GCSMS},
        follow=True,
    )
    grappe.refresh_from_db()
    assert grappe.legal_form == LegalForm.GCSMS
    assert "Pièce obligatoire du dossier : la convention constitutive du GCSMS" in _page(response)


def test_a_member_who_is_not_the_porteur_cannot_change_it(client):
    grappe = GrappeFactory()
    partner = OrganisationFactory()
    GrappeOrganisation.objects.create(grappe=grappe, organisation=partner)
    user = UserFactory()
    confirmed_member(user, partner)
    client.force_login(user)
    page = _page(client.get(reverse("organisations:grappe", args=[grappe.pk])))
    assert "Enregistrer la forme juridique" not in page
    before = db_state()
    response = client.post(
        reverse("organisations:grappe", args=[grappe.pk]),
        {"form": "legal_form", "legal_form": LegalForm.GCSMS},
    )
    assert "Seul le porteur modifie la forme juridique" in _page(response)
    assert_unchanged(before)


def test_the_legal_form_is_frozen_once_a_dossier_is_submitted(client, porteur):
    grappe, user = porteur
    application = ApplicationFactory(grappe=grappe)
    type(application).objects.filter(pk=application.pk).update(
        status="submitted", submitted_at=application.created_at
    )
    page = _page(client.get(reverse("organisations:grappe", args=[grappe.pk])))
    assert "Enregistrer la forme juridique" not in page
    before = db_state()
    with pytest.raises(services.NotAllowed):
        services.grappe_legal_form_set(grappe=grappe, legal_form=LegalForm.GCSMS, by=user)
    client.post(
        reverse("organisations:grappe", args=[grappe.pk]),
        {"form": "legal_form", "legal_form": LegalForm.GCSMS},
    )
    assert_unchanged(before)


# --- GHT exception on the grappe page ----------------------------------------------------------


def _hospital_solution() -> DuiSolution:
    return DuiSolutionFactory(
        editor="Éditeur hospitalier",
        product="DPI",
        segur_referenced=False,
        segur_hospital_referenced=True,
    )


@pytest.mark.parametrize(
    ("ght", "warned"),
    [("GHT Paris Centre", False), ("", True)],
)
def test_a_hospital_corridor_solution_is_not_flagged_for_a_ght_member(ght, warned):
    CampaignFactory(year=2023)
    structure = StructureFactory(ght=ght, name="EHPAD du GHT")
    warning = segur_warning(structure=structure, solution=_hospital_solution())
    assert bool(warning) is warned


def test_the_solution_says_its_corridor():
    assert str(_hospital_solution()) == (
        "Éditeur hospitalier — DPI (référencée Ségur, couloir hospitalier seulement)"
    )


def test_the_grappe_page_shows_the_ght_of_an_essms(client, porteur):
    grappe, _user = porteur
    GrappeMembershipFactory(
        grappe=grappe,
        structure=StructureFactory(organisation=grappe.porteur, ght="GHT Paris Centre"),
    )
    page = _page(client.get(reverse("organisations:grappe", args=[grappe.pk])))
    assert '<span class="fr-badge fr-badge--sm">GHT : GHT Paris Centre</span>' in page
