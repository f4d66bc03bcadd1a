"""An ARS agent in real Chromium: mandatory TOTP enrolment, then login with a real code."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, expect

from essms_portal.accounts.models import Role
from tests.browser.helpers import enter_totp, totp_code
from tests.factories import UserFactory, verified_email

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "motdepasse-solide-2023"  # UserFactory's


def _login(page: Page, base: str, email: str, next_url: str) -> None:
    page.goto(f"{base}/comptes/login/?next={next_url}")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Connexion|Se connecter|Sign In", re.I)).click()


def test_agent_enrols_totp_then_logs_in_with_a_code(live_server, page):
    agent = UserFactory(role=Role.ARS_INSTRUCTEUR, region_id="11", mfa=False)
    verified_email(agent)
    base = live_server.url

    _login(page, base, agent.email, "/instruction/")
    # Sent to enrolment; allauth asks for the password again before adding an authenticator.
    expect(page).to_have_url(re.compile(r"/comptes/reauthenticate/"))
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/comptes/2fa/totp/activate/$"))
    secret = page.locator("#authenticator_secret").input_value()
    page.fill("input[name=code]", totp_code(secret))
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/comptes/2fa/recovery-codes/"))
    assert Authenticator.objects.filter(user=agent, type=Authenticator.Type.TOTP).exists()
    response = page.goto(f"{base}/instruction/")
    assert response is not None and response.status == 200
    assert page.url == f"{base}/instruction/"

    page.context.clear_cookies()
    # A code is accepted once: wait for the next 30-second step before the second login.
    time.sleep(30 - time.time() % 30 + 1)
    _login(page, base, agent.email, "/instruction/")
    expect(page).to_have_url(re.compile(r"/comptes/2fa/authenticate/"))
    enter_totp(page, secret)
    expect(page).to_have_url(f"{base}/instruction/")
