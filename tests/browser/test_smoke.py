"""The demo portal in real Chromium: home page, login, admin with a read-only quote."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from applications.demo.simple import DEMO_GRAPPE, DEMO_PASSWORD, DEMO_TOTP_SECRET
from applications.models import Application
from tests.browser.helpers import enter_totp, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_home_then_admin_login_and_quote(live_server, page, artifacts_dir):
    call_command("seed_demo")
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="ESMS numérique", level=1)).to_be_visible()
    expect(page.get_by_text("Appel à projets national 2023")).to_be_visible()
    # The DSFR stylesheet is really applied (a dropped stylesheet would leave the default font).
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Marianne" in font
    page.screenshot(path=artifacts_dir / "home.png", full_page=True)
    assert serious_violations(page) == []

    page.goto(live_server.url + "/comptes/login/")
    page.screenshot(path=artifacts_dir / "connexion.png", full_page=True)
    assert serious_violations(page) == []

    # The admin signs in through allauth, then answers the MFA stage (pre-enrolled demo secret).
    page.goto(live_server.url + "/admin/login/?next=/admin/")
    page.fill("input[name=login]", "admin@demo.esms.fr")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name=re.compile("Connexion|Se connecter|Sign In", re.I)).click()
    enter_totp(page, DEMO_TOTP_SECRET)
    expect(page).to_have_url(live_server.url + "/admin/")
    application = Application.objects.get(grappe__name=DEMO_GRAPPE)
    page.goto(f"{live_server.url}/admin/applications/application/{application.pk}/change/")
    expect(page.get_by_text("Éligible").first).to_be_visible()
    page.screenshot(path=artifacts_dir / "admin-application.png", full_page=True)
