"""Deny by default: public pages opt out, everything else redirects to the login page."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_home_is_public_and_lists_open_calls(client):
    from django.core.management import call_command

    call_command("seed_demo")
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Appel à projets national 2023" in response.content.decode()


def test_healthz_is_public(client):
    assert client.get(reverse("healthz")).json() == {"status": "ok"}


def test_admin_requires_a_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_login_page_renders_in_french(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert 'lang="fr' in response.content.decode()
