"""Issue #10, finding 5: one typo (``1000000000000`` in "Pilotage demandé") was saved, then every
page of the grappe answered 500. Every money field is now bounded like its column, and the
largest storable amounts render everywhere."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from applications.models import Application, HardwareRequest
from essms_portal.money import MAX_EUROS
from tests.dbstate import assert_unchanged, db_state
from tests.factories import (
    ApplicationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dossier(client):
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    user = UserFactory()
    confirmed_member(user, application.grappe.porteur)
    client.force_login(user)
    return application, user


def _save(client, application, **values):
    data = {"version": application.version, "procurement": "0", "steering": "0", **values}
    return client.post(reverse("dossiers:detail", args=[application.pk]), data)


@pytest.mark.parametrize(
    "field", ["steering", "procurement", "hardware"], ids=["pilotage", "passation", "materiel"]
)
def test_one_zero_too_many_is_a_field_error_and_nothing_is_saved(client, dossier, field):
    application, _user = dossier
    name = f"hardware_{application.grappe.porteur_id}" if field == "hardware" else field
    before = db_state()
    response = _save(client, application, **{name: "1000000000000"})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Montant trop élevé" in page
    assert f'id="id_{name}_error"' in response.content.decode()
    assert_unchanged(before)


def test_the_live_quote_survives_an_absurd_exponent(client, dossier):
    application, _user = dossier
    response = client.post(
        reverse("dossiers:quote", args=[application.pk]),
        {"steering": "9e999999999", "procurement": "-5", "version": application.version},
    )
    assert response.status_code == 200
    assert "dépasse le plafond" in html.unescape(response.content.decode())


def test_the_model_refuses_an_amount_its_column_cannot_hold(dossier):
    application, _user = dossier
    application.requested_steering = Decimal(MAX_EUROS + 1)
    with pytest.raises(ValidationError) as error:
        application.full_clean()
    assert "requested_steering" in error.value.message_dict


def test_the_largest_storable_amounts_render_on_every_page(client, dossier):
    """No page crashes on data that is stored: the column's maximum everywhere."""
    application, _user = dossier
    Application.objects.filter(pk=application.pk).update(
        requested_steering=MAX_EUROS, requested_procurement=MAX_EUROS
    )
    HardwareRequest.objects.create(
        application=application, organisation=application.grappe.porteur, amount=MAX_EUROS
    )
    pages = [
        reverse("organisations:home"),
        reverse("organisations:grappe", args=[application.grappe_id]),
        reverse("dossiers:detail", args=[application.pk]),
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    # Past the draft (as if submitted): the receipt and the back office read it too.
    Application.objects.filter(pk=application.pk).update(
        status="submitted", submitted_at=application.created_at
    )
    assert client.get(reverse("dossiers:receipt", args=[application.pk])).status_code == 200
    cnsa = UserFactory(role="cnsa_agent")
    client.force_login(cnsa)
    assert client.get(reverse("applications:queue")).status_code == 200
    assert client.get(reverse("applications:review", args=[application.pk])).status_code == 200
