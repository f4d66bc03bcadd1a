"""``GET /api/finess/<finess>/``: the referential lookup used while declaring ESSMS."""

import pytest
from django.urls import reverse

from essms_portal.identifiers import finess_with_key, siren_with_key, siret_with_key
from grappes.models import Departement, FinessCategory, Organisation
from tests.factories import StructureFactory, UserFactory

pytestmark = pytest.mark.django_db

FINESS = finess_with_key("97100042")
EJ = finess_with_key("97190001")
SIRET = siret_with_key(siren_with_key("77700002") + "0001")


@pytest.fixture
def user_client(client):
    client.force_login(UserFactory())
    return client


def lookup(client, number):
    return client.get(reverse("grappes:finess_lookup", kwargs={"finess": number}))


def test_known_establishment(user_client):
    StructureFactory(
        finess=FINESS,
        name="EHPAD LES FLAMBOYANTS",
        organisation=Organisation.objects.create(finess=EJ, name="Association Karukera"),
        category=FinessCategory.objects.get(code="500"),
        departement=Departement.objects.get(code="971"),
        siret=SIRET,
    )
    response = lookup(user_client, FINESS)

    assert response.status_code == 200
    assert response.json() == {
        "finess": FINESS,
        "name": "EHPAD LES FLAMBOYANTS",
        "category": "500",
        "category_label": "Etablissement d'hébergement pour personnes âgées dépendantes",
        "casf_item": "6°",
        "department": "971",
        "region": "01",
        "ej": EJ,
        "siret": SIRET,
        "eligible": True,
        "closed": False,
    }


def test_not_an_essms_and_no_region(user_client):
    number = finess_with_key("97500007")
    StructureFactory(
        finess=number,
        category=None,
        category_code="697",
        eligible=False,
        closed=True,
        departement=Departement.objects.get(code="975"),
    )
    payload = lookup(user_client, number).json()

    assert (payload["category"], payload["category_label"], payload["casf_item"]) == (
        "697",
        None,
        None,
    )
    assert (payload["department"], payload["region"]) == ("975", None)
    assert (payload["siret"], payload["eligible"], payload["closed"]) == (None, False, True)


def test_unknown_number_is_404(user_client):
    response = lookup(user_client, finess_with_key("01000099"))

    assert response.status_code == 404
    assert "Aucun établissement" in response.json()["error"]


WRONG_KEY = FINESS[:-1] + str((int(FINESS[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("number", "message"),
    [("12345", "9 caractères"), ("9710004200", "9 caractères"), (WRONG_KEY, "clé de contrôle")],
)
def test_malformed_number_is_400(user_client, number, message):
    response = lookup(user_client, number)

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_anonymous_is_sent_to_login(client):
    response = lookup(client, FINESS)

    assert response.status_code == 302
    assert "/comptes/login/" in response["Location"]
