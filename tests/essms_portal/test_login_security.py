"""Issue #12: lockout of failed logins on every form and across processes, the CNIL password
rule, and the login audit (accounts.LoginEvent)."""

from __future__ import annotations

import datetime
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from essms_portal.accounts import audit
from essms_portal.accounts.models import LoginEvent
from essms_portal.accounts.tasks import purge_login_events
from tests.factories import UserFactory, verified_email

PASSWORD = "motdepasse-solide-2023"
ROOT = Path(__file__).resolve().parents[2]
UA = "Mozilla/5.0 (essai)"

ALLAUTH_REFUSAL = "Trop de tentatives"
AXES_REFUSAL = "Connexion temporairement bloquée"


def _refused_in_french(response) -> str:
    page = html.unescape(response.content.decode())
    assert response.status_code in (200, 429)
    assert ALLAUTH_REFUSAL in page or AXES_REFUSAL in page
    return page


def _login(client, email, password, ip="10.0.0.1"):
    return client.post(
        reverse("account_login"),
        {"login": email, "password": password},
        REMOTE_ADDR=ip,
        HTTP_USER_AGENT=UA,
    )


# --- Lockout over HTTP -------------------------------------------------------------------


@pytest.mark.django_db
def test_allauth_login_locked_after_failures_even_with_the_right_password(client):
    user = UserFactory(email="cible@example.fr")
    verified_email(user)
    for _ in range(6):
        response = _login(client, user.email, "mauvais-mot-de-passe")
        assert "_auth_user_id" not in client.session
    response = _login(client, user.email, PASSWORD)
    _refused_in_french(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lockout_holds_per_account_from_another_ip(client):
    """Axes locks the account itself: another address with the right password is refused."""
    user = UserFactory(email="cible2@example.fr")
    verified_email(user)
    for n in range(5):
        _login(client, user.email, "mauvais-mot-de-passe", ip=f"10.0.1.{n}")
    response = _login(client, user.email, PASSWORD, ip="10.0.2.1")
    _refused_in_french(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lockout_holds_per_ip_for_other_accounts(client):
    """Axes locks the address: after 5 failures on 5 accounts, a 6th account is refused."""
    for n in range(5):
        _login(client, f"inconnu{n}@example.fr", "mauvais-mot-de-passe", ip="10.0.3.3")
    user = UserFactory(email="autre@example.fr")
    verified_email(user)
    response = _login(client, user.email, PASSWORD, ip="10.0.3.3")
    _refused_in_french(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_admin_login_path_is_throttled(client):
    """The admin's login path: 6 wrong passwords then the right one never opens the admin."""
    admin_user = UserFactory(email="admin@example.fr", is_staff=True, is_superuser=True, mfa=False)
    verified_email(admin_user)
    for _ in range(6):
        client.post(
            reverse("admin:login"),
            {"username": admin_user.email, "password": "mauvais", "login": admin_user.email},
            REMOTE_ADDR="10.0.4.4",
        )
        _login(client, admin_user.email, "mauvais", ip="10.0.4.4")
    response = client.post(
        reverse("admin:login"),
        {"username": admin_user.email, "password": PASSWORD},
        REMOTE_ADDR="10.0.4.4",
    )
    assert "_auth_user_id" not in client.session
    response = _login(client, admin_user.email, PASSWORD, ip="10.0.4.4")
    _refused_in_french(response)
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.django_db
def test_django_authentication_form_is_locked(rf):
    """Django's own auth path (the form of the admin and of any LoginView) is locked too."""
    from django.contrib.auth.forms import AuthenticationForm

    user = UserFactory(email="form@example.fr")
    for _ in range(5):
        request = rf.post("/admin/login/", REMOTE_ADDR="10.0.5.5")
        assert not AuthenticationForm(
            request, data={"username": user.email, "password": "mauvais"}
        ).is_valid()
    request = rf.post("/admin/login/", REMOTE_ADDR="10.0.5.6")
    assert not AuthenticationForm(
        request, data={"username": user.email, "password": PASSWORD}
    ).is_valid()
    assert AccessAttempt.objects.filter(username=user.email).exists()


@pytest.mark.django_db
def test_unlock_by_command(client):
    user = UserFactory(email="bloque@example.fr")
    verified_email(user)
    for _ in range(5):
        _login(client, user.email, "mauvais", ip="10.0.6.6")
    call_command("axes_reset_username", user.email)
    call_command("axes_reset_ip", "10.0.6.6")
    cache.clear()  # allauth's own rate limit (cache), the other half of the lockout
    _login(client, user.email, PASSWORD, ip="10.0.6.6")
    assert "_auth_user_id" in client.session


# --- Across two OS processes sharing the database and the cache -------------------------


def _attempts(mode: str, email: str, password: str, count: int, *extra: str) -> list[dict]:
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test"}
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.essms_portal.login_attempts",
            mode,
            email,
            password,
            str(count),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def shared_database():
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(
        connection.settings_dict["NAME"]
    ):
        pytest.skip("La base SQLite de test en mémoire n'est pas partagée entre processus.")


@pytest.mark.django_db(transaction=True)
def test_admin_form_failures_lock_allauth_login_in_another_process(shared_database):
    user = UserFactory(email="process@example.fr")
    verified_email(user)
    first = _attempts("django_form", user.email, "mauvais", 5)
    assert [r["logged_in"] for r in first] == [False] * 5
    (second,) = _attempts("allauth", user.email, PASSWORD, 1)
    assert not second["logged_in"]
    assert second["status"] == 429
    assert AXES_REFUSAL in html.unescape(second["page"])


@pytest.mark.django_db(transaction=True)
def test_allauth_failures_lock_admin_form_in_another_process(shared_database):
    user = UserFactory(email="process2@example.fr")
    verified_email(user)
    _attempts("allauth", user.email, "mauvais", 5)
    (second,) = _attempts("django_form", user.email, PASSWORD, 1)
    assert not second["logged_in"]


@pytest.mark.django_db(transaction=True)
def test_allauth_rate_limit_cache_is_shared_across_processes(shared_database):
    """Axes off in both processes: only allauth's rate limit, kept in the shared cache."""
    user = UserFactory(email="process3@example.fr")
    verified_email(user)
    _attempts("allauth", user.email, "mauvais", 5, "noaxes")
    (second,) = _attempts("allauth", user.email, PASSWORD, 1, "noaxes")
    assert not second["logged_in"]
    assert ALLAUTH_REFUSAL in html.unescape(second["page"])


# --- Password rule (CNIL délibération n° 2022-100) ---------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaaaa", "type(s) de caractères"),
        ("aaaaaaaaaaaa", "répète"),
        ("azertyuiop12", "trop courant"),
        ("motdepasse12", "trop courant"),
        ("Court1!", "trop faible"),
        ("abcdefghijkl", "trop faible"),
        ("aaaaaaaaaaaaaaaaaaaa", "répète"),
    ],
)
def test_weak_passwords_refused_with_the_reason(password, reason):
    with pytest.raises(ValidationError) as error:
        validate_password(password)
    assert any(reason in message for message in error.value.messages), error.value.messages


@pytest.mark.parametrize(
    "password",
    [
        "demo-esms-2023!",  # README's demo password: lower, digit, special
        "Tr0mb0ne-Vert",  # 13 characters, 4 classes
        "le chat dort sous la table",  # passphrase, 16+ characters, 2 classes
        "motdepasse-solide-2023",
    ],
)
def test_strong_passwords_accepted(password):
    validate_password(password)


# --- Login audit ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_login_failed_logout_over_http(client):
    user = UserFactory(email="audit@example.fr")
    verified_email(user)
    _login(client, user.email, "mauvais", ip="10.0.7.7")
    _login(client, "personne@example.fr", "mauvais", ip="10.0.7.7")
    _login(client, user.email, PASSWORD, ip="10.0.7.7")
    assert "_auth_user_id" in client.session
    client.post(reverse("account_logout"), REMOTE_ADDR="10.0.7.7", HTTP_USER_AGENT=UA)
    events = list(LoginEvent.objects.order_by("pk"))
    assert [(e.kind, e.identifier, e.user_id) for e in events] == [
        ("login_failed", "audit@example.fr", user.pk),
        ("login_failed", "personne@example.fr", None),
        ("login", "audit@example.fr", user.pk),
        ("logout", "audit@example.fr", user.pk),
    ]
    assert {(e.ip_address, e.user_agent) for e in events} == {("10.0.7.7", UA)}


@pytest.mark.django_db
def test_audit_password_changed_and_reset(client, mailoutbox):
    user = UserFactory(email="mdp@example.fr")
    verified_email(user)
    client.force_login(user)
    client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "Nouveau-mot-2024", "password2": "Nouveau-mot-2024"},
        REMOTE_ADDR="10.0.8.8",
        HTTP_USER_AGENT=UA,
    )
    event = LoginEvent.objects.get(kind="password_changed")
    assert (event.user, event.ip_address, event.user_agent) == (user, "10.0.8.8", UA)

    client.logout()
    client.post(reverse("account_reset_password"), {"email": user.email})
    body = mailoutbox[-1].body
    link = next(w for w in body.split() if "/comptes/password/reset/key/" in w)
    path = "/" + link.split("/", 3)[3]
    response = client.get(path, REMOTE_ADDR="10.0.8.9", HTTP_USER_AGENT=UA)
    if response.status_code == 302:
        path = response["Location"]
    client.post(
        path,
        {"password1": "Encore-un-autre-2025", "password2": "Encore-un-autre-2025"},
        REMOTE_ADDR="10.0.8.9",
        HTTP_USER_AGENT=UA,
    )
    event = LoginEvent.objects.get(kind="password_reset")
    assert (event.user, event.ip_address, event.user_agent) == (user, "10.0.8.9", UA)


@pytest.mark.django_db
def test_audit_mfa_events(rf):
    from django.apps import apps

    if not apps.is_installed("allauth.mfa"):
        pytest.skip("allauth.mfa n'est pas installé.")
    from allauth.mfa import signals
    from allauth.mfa.models import Authenticator

    user = UserFactory(email="mfa@example.fr")
    authenticator = Authenticator(user=user, type=Authenticator.Type.TOTP, data={})
    request = rf.post("/", REMOTE_ADDR="10.0.9.9", HTTP_USER_AGENT=UA)
    signals.authenticator_added.send(
        Authenticator, request=request, user=user, authenticator=authenticator
    )
    signals.authenticator_removed.send(
        Authenticator, request=request, user=user, authenticator=authenticator
    )
    assert list(LoginEvent.objects.order_by("pk").values_list("kind", "user", "ip_address")) == [
        ("mfa_enrolled", user.pk, "10.0.9.9"),
        ("mfa_removed", user.pk, "10.0.9.9"),
    ]


@pytest.mark.django_db
def test_purge_removes_only_expired_events(settings):
    settings.LOGIN_AUDIT_RETENTION_DAYS = 30
    old = LoginEvent.objects.create(kind="login", identifier="vieux@example.fr")
    recent = LoginEvent.objects.create(kind="login", identifier="recent@example.fr")
    LoginEvent.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=31)
    )
    LoginEvent.objects.filter(pk=recent.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=29)
    )
    assert purge_login_events.delay().get() == 1
    assert list(LoginEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert audit.purge() == 0


def test_purge_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["login-audit-purge"]
    assert entry["task"] == "essms_portal.accounts.tasks.purge_login_events"
    assert entry["schedule"] == 24 * 60 * 60


@pytest.mark.django_db
def test_admin_audit_is_read_only(client):
    admin_user = UserFactory(email="chef@example.fr", is_staff=True, is_superuser=True)
    event = LoginEvent.objects.create(kind="login_failed", identifier="x@example.fr")
    client.force_login(admin_user)
    changelist = reverse("admin:accounts_loginevent_changelist")
    response = client.get(changelist)
    assert response.status_code == 200
    assert "x@example.fr" in response.content.decode()
    assert client.get(reverse("admin:accounts_loginevent_add")).status_code == 403
    detail = reverse("admin:accounts_loginevent_change", args=[event.pk])
    assert client.get(detail).status_code == 200  # viewable
    client.post(detail, {"identifier": "changé"})
    event.refresh_from_db()
    assert event.identifier == "x@example.fr"
    assert (
        client.get(reverse("admin:accounts_loginevent_delete", args=[event.pk])).status_code == 403
    )
