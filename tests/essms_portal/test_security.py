"""Issue #12 (6, 8, 9): security headers on every page, server errors that reach someone, and
production refusing a weak secret key."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import override_settings
from django.urls import reverse
from post_office.models import Email

from essms_portal.settings.secret_key import check_secret_key
from tests.factories import UserFactory, verified_email

ROOT = Path(__file__).resolve().parent.parent.parent
GOOD_SECRET = "k" * 30 + "0123456789abcdefghijklmnopqrstuvwxyz"


# --------------------------------------------------------------------------------------------
# 6. Headers
# --------------------------------------------------------------------------------------------


def test_the_header_middlewares_are_global_and_first():
    middleware = settings.MIDDLEWARE
    assert middleware[0] == "django.middleware.security.SecurityMiddleware"
    assert set(middleware[1:3]) == {
        "csp.middleware.CSPMiddleware",
        "essms_portal.security.PermissionsPolicyMiddleware",
    }


def assert_security_headers(response):
    policy = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    permissions = response.headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/", "/comptes/login/", "/comptes/signup/", "/comptes/password/reset/", "/healthz/"]
)
def test_public_pages_carry_the_security_headers(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert_security_headers(response)


@pytest.mark.django_db
def test_signed_in_pages_and_errors_carry_the_security_headers(client):
    user = UserFactory(role="gestionnaire")
    verified_email(user)
    client.force_login(user)
    for url, status in [
        (reverse("organisations:home"), 200),
        ("/nulle-part/", 404),
        (reverse("applications:queue"), 403),
    ]:
        response = client.get(url)
        assert response.status_code == status, url
        assert_security_headers(response)


def test_no_template_has_an_inline_script_style_or_handler():
    """What the policy would block: `<script>` with a body, `<style>`, `style=`, `on…=`.
    (templates/decisions/letter.html, templates/grants/convention.html and
    templates/grants/batch_pdf.html are rendered to PDF by WeasyPrint, not by a browser.)"""
    import re

    pattern = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", re.I)
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in (ROOT / "templates").rglob("*.html")
        if path.relative_to(ROOT).as_posix()
        not in (
            "templates/decisions/letter.html",
            "templates/grants/convention.html",
            "templates/grants/batch_pdf.html",
        )
        for match in pattern.finditer(path.read_text())
    ]
    assert offenders == []


# --------------------------------------------------------------------------------------------
# 8. Errors reach someone
# --------------------------------------------------------------------------------------------


def test_admins_are_read_from_the_environment():
    script = (
        "from django.conf import settings; print(settings.ADMINS, settings.SERVER_EMAIL, sep='|')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.local",
        "DJANGO_ADMINS": "Équipe technique <tech@example.gouv.fr>, astreinte@example.gouv.fr",
        "SERVER_EMAIL": "erreurs@example.gouv.fr",
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == (
        "[('Équipe technique', 'tech@example.gouv.fr'), ('', 'astreinte@example.gouv.fr')]"
        "|erreurs@example.gouv.fr"
    )


def fail_health_check(execute, sql, params, many, context):
    """The database answers nothing but the health check's probe fails, as when it is down."""
    if sql == "SELECT 1":
        raise OperationalError("connection to server lost")
    return execute(sql, params, many, context)


@pytest.mark.django_db
@override_settings(
    ADMINS=[("Équipe technique", "tech@example.gouv.fr")],
    SERVER_EMAIL="erreurs@example.gouv.fr",
    EMAIL_BACKEND="essms_portal.outbox.OutboxEmailBackend",
)
def test_a_server_error_queues_one_mail_to_the_admins_and_says_so(client):
    client.raise_request_exception = False
    with connection.execute_wrapper(fail_health_check):
        response = client.get("/healthz/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Une erreur est survenue" in page
    assert "L'équipe technique a été prévenue" in page
    assert "fr-header" in page and "Traceback" not in page
    assert_security_headers(response)
    mail = Email.objects.get()
    assert mail.to == ["tech@example.gouv.fr"]
    assert mail.from_email == "erreurs@example.gouv.fr"
    assert mail.subject.startswith("[ESMS numérique] ERROR")
    assert "/healthz/" in mail.subject
    assert "OperationalError" in mail.message


@pytest.mark.django_db
@override_settings(ADMINS=[], SENTRY_DSN="", EMAIL_BACKEND="essms_portal.outbox.OutboxEmailBackend")
def test_without_anyone_to_tell_the_500_page_does_not_pretend(client):
    client.raise_request_exception = False
    with connection.execute_wrapper(fail_health_check):
        response = client.get("/healthz/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Une erreur est survenue" in page
    assert "prévenue" not in page
    assert not Email.objects.exists()


def production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SECRET_KEY", "SENTRY_DSN", "DJANGO_ADMINS"}
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.production",
        "DJANGO_ALLOWED_HOSTS": "esms-numerique.example.gouv.fr",
        "PORTAL_BASE_URL": "https://esms-numerique.example.gouv.fr",
        **extra,
    }


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sentry_is_not_initialised_without_a_dsn():
    result = run_python(
        "import django; django.setup(); import sentry_sdk; "
        "print(sentry_sdk.get_client().is_active())",
        production_env(DJANGO_SECRET_KEY=GOOD_SECRET),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_sentry_reports_an_error_to_the_dsn_when_set():
    """SENTRY_DSN pointing to a dummy local endpoint: the production settings initialise the
    SDK and an exception reaches the endpoint (no network beyond 127.0.0.1)."""
    received: list[bytes] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"] or 0))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "br":
                import brotli

                body = brotli.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dsn = f"http://public@127.0.0.1:{server.server_port}/1"
        result = run_python(
            "import django; django.setup(); import sentry_sdk; "
            "assert sentry_sdk.get_client().is_active(); "
            "sentry_sdk.capture_exception(RuntimeError('essai de rapport')); "
            "sentry_sdk.flush(10)",
            production_env(DJANGO_SECRET_KEY=GOOD_SECRET, SENTRY_DSN=dsn),
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert any(b"essai de rapport" in body for body in received), received


def test_the_500_page_reports_sentry_as_someone_told(rf):
    from essms_portal.security import server_error

    with override_settings(ADMINS=[], SENTRY_DSN="http://public@127.0.0.1:9/1"):
        assert "a été prévenue" in server_error(rf.get("/")).content.decode()
    with override_settings(ADMINS=[], SENTRY_DSN=""):
        assert "a été prévenue" not in server_error(rf.get("/")).content.decode()


# --------------------------------------------------------------------------------------------
# 9. Production refuses weak secrets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        None,
        "",
        "change-me-in-dot-env",
        "insecure-local-demo-key-do-not-use-in-production",
        "django-insecure-" + "x1y2z3" * 10,
        "trop-court-0123456789",
        "a" * 64,
    ],
)
def test_weak_secret_keys_are_refused(secret):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY") as error:
        check_secret_key(secret)
    assert "\n" not in str(error.value)


def test_a_strong_secret_key_is_accepted():
    assert check_secret_key(GOOD_SECRET) == GOOD_SECRET


@pytest.mark.parametrize("secret", [None, "change-me-in-dot-env", "court"])
def test_manage_py_stops_with_one_line_on_a_weak_secret(secret):
    env = production_env() if secret is None else production_env(DJANGO_SECRET_KEY=secret)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration invalide / invalid configuration: DJANGO_SECRET_KEY")
    assert "Traceback" not in result.stderr


def test_wsgi_stops_with_one_line_on_a_weak_secret():
    result = run_python(
        "import essms_portal.wsgi", production_env(DJANGO_SECRET_KEY="change-me-in-dot-env")
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        "Configuration invalide / invalid configuration: DJANGO_SECRET_KEY est une valeur par "
        "défaut connue / is a known default: generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    ]


def test_compose_has_no_default_secret():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in compose
    assert "DJANGO_SECRET_KEY: ${DJANGO_SECRET_KEY:?" in compose
