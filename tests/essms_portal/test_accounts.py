"""Account pages (django-allauth) render in the DSFR shell, in French, under strict templates."""

import html

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "motdepasse-solide-2023"


@pytest.mark.parametrize("name", ["account_login", "account_signup", "account_reset_password"])
def test_public_account_pages(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "fr-header" in response.content.decode()


@pytest.mark.parametrize("name", ["account_email", "account_change_password", "account_logout"])
def test_own_account_pages(client, name):
    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "fr-header" in response.content.decode()


def test_password_reset_sends_a_mail(client, mailoutbox):
    user = UserFactory(email="oubli@example.fr")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client.post(reverse("account_reset_password"), {"email": "oubli@example.fr"})
    assert mailoutbox and mailoutbox[0].to == ["oubli@example.fr"]


def test_login_errors_are_shown_next_to_the_form(client):
    response = client.post(reverse("account_login"), {"login": "x@example.fr", "password": "faux"})
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "fr-alert--error" in page
