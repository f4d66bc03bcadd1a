"""Agents' account security (issue #12): mandatory MFA and bounded sessions."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from essms_portal.accounts.models import Role
from essms_portal.accounts.security import (
    AGENT_IDLE_TIMEOUT,
    AGENT_MAX_SESSION_AGE,
    LAST_ACTIVITY_KEY,
    LOGIN_AT_KEY,
)
from tests.factories import UserFactory, mfa_enrolled, verified_email

pytestmark = pytest.mark.django_db

BACK_OFFICE = [
    "/instruction/",
    "/instruction/decisions/",
    "/instruction/decisions/a-emettre/",
    "/instruction/tableau-de-bord/",
    "/admin/",
    "/espace/",
]
AGENTS = [
    {"role": Role.ARS_INSTRUCTEUR, "region_id": "11"},
    {"role": Role.ARS_VALIDEUR, "region_id": "11"},
    {"role": Role.CNSA_AGENT},
    {"role": Role.ADMINISTRATOR, "is_staff": True, "is_superuser": True},
    {"role": Role.GESTIONNAIRE, "is_staff": True},
]


@pytest.mark.parametrize("fields", AGENTS, ids=lambda f: f"{f['role']}-{f.get('is_staff')}")
def test_agent_without_mfa_is_sent_to_enrolment_then_enters(client, fields):
    agent = UserFactory(mfa=False, **fields)
    client.force_login(agent)
    for url in BACK_OFFICE:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp"), url
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("double authentification est obligatoire" in m for m in messages)
    # Enrolment pages, logout and re-authentication stay reachable.
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("account_reauthenticate")).status_code == 200

    mfa_enrolled(agent)
    if agent.is_superuser:
        assert client.get("/admin/").status_code == 200
    if agent.role == Role.CNSA_AGENT:
        assert client.get("/instruction/decisions/").status_code == 200
    if agent.role in (Role.ARS_INSTRUCTEUR, Role.ARS_VALIDEUR):
        assert client.get("/instruction/").status_code == 200


def test_gestionnaire_without_mfa_is_not_redirected(client):
    user = UserFactory()
    assert not Authenticator.objects.filter(user=user).exists()
    client.force_login(user)
    assert client.get("/espace/").status_code == 200


def test_factory_enrols_agents_only():
    assert Authenticator.objects.filter(user=UserFactory(role=Role.CNSA_AGENT)).exists()
    assert not Authenticator.objects.filter(user=UserFactory()).exists()


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/?next=/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"] == "/comptes/login/?next=%2Fadmin%2Faccounts%2Fuser%2F"
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/comptes/login/?next=%2Fadmin%2F"
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_login_when_signed_in(client):
    admin = UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get("/admin/login/?next=/admin/")["Location"] == "/admin/"
    client.force_login(UserFactory())
    assert client.get("/admin/login/").status_code == 403


def _age_session(client: Client, *, idle: int = 0, age: int = 0) -> None:
    session = client.session
    now = int(time.time())
    session[LAST_ACTIVITY_KEY] = now - idle
    session[LOGIN_AT_KEY] = now - age
    session.save()


def test_idle_agent_session_expires(client):
    agent = UserFactory(role=Role.CNSA_AGENT)
    client.force_login(agent)
    assert client.session.get_expire_at_browser_close()
    _age_session(client, idle=AGENT_IDLE_TIMEOUT - 60, age=AGENT_IDLE_TIMEOUT)
    assert client.get("/instruction/decisions/").status_code == 200
    _age_session(client, idle=AGENT_IDLE_TIMEOUT + 1, age=AGENT_IDLE_TIMEOUT + 1)
    response = client.get("/instruction/decisions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/comptes/login/?next=")
    assert "_auth_user_id" not in client.session
    assert any("inactivité" in str(m) for m in response.wsgi_request._messages)


def test_agent_session_lasts_ten_hours_at_most(client):
    agent = UserFactory(role=Role.ARS_INSTRUCTEUR, region_id="11")
    client.force_login(agent)
    _age_session(client, idle=60, age=AGENT_MAX_SESSION_AGE - 120)
    assert client.get("/instruction/").status_code == 200
    _age_session(client, idle=60, age=AGENT_MAX_SESSION_AGE + 1)
    response = client.get("/instruction/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert any("10 heures" in str(m) for m in response.wsgi_request._messages)


def test_gestionnaire_session_is_unaffected(client):
    user = UserFactory()
    verified_email(user)
    response = client.post(
        reverse("account_login"),
        {"login": user.email, "password": "motdepasse-solide-2023", "remember": "on"},
    )
    assert response.status_code == 302
    assert not client.session.get_expire_at_browser_close()
    _age_session(client, idle=AGENT_MAX_SESSION_AGE * 2, age=AGENT_MAX_SESSION_AGE * 2)
    assert client.get("/espace/").status_code == 200


def test_agent_remember_me_is_ignored(client):
    agent = UserFactory(role=Role.CNSA_AGENT, mfa=False)
    verified_email(agent)
    response = client.post(
        reverse("account_login"),
        {"login": agent.email, "password": "motdepasse-solide-2023", "remember": "on"},
    )
    assert response.status_code == 302
    client.get(reverse("mfa_index"))
    assert client.session.get_expire_at_browser_close()


def test_password_change_logs_other_sessions_out():
    user = UserFactory()
    verified_email(user)
    here, elsewhere = Client(), Client()
    here.force_login(user)
    elsewhere.force_login(user)
    assert elsewhere.get("/espace/").status_code == 200
    response = here.post(
        reverse("account_change_password"),
        {
            "oldpassword": "motdepasse-solide-2023",
            "password1": "un-tout-nouveau-secret-42",
            "password2": "un-tout-nouveau-secret-42",
        },
    )
    assert response.status_code == 302, response.content
    assert here.get("/espace/").status_code == 200  # the current session is kept
    response = elsewhere.get("/espace/")
    assert response.status_code == 302
    assert response["Location"].startswith("/comptes/login/")
