"""Helpers of the responsive journeys (test_journeys_responsive.py) and of the admin's
accessibility test: viewports, sign-in, and one check per page — axe-core without a serious or
critical violation, no console error, no uncaught script error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, expect

from applications.demo.simple import DEMO_PASSWORD, DEMO_TOTP_SECRET
from tests.browser.helpers import enter_totp, serious_violations

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = (("telephone", PHONE), ("ordinateur", DESKTOP))


@dataclass
class Visit:
    """One browser context at one viewport, watching every page's console."""

    page: Page
    context: BrowserContext
    base: str
    label: str
    artifacts: Path
    errors: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def phone(self) -> bool:
        return self.label == "telephone"

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response and response.status)

    def check(self, name: str, *, axe: bool = True) -> None:
        """Screenshot, then no console error and (unless ``axe`` is False, with a reason at the
        call site) no serious or critical axe violation on the current page."""
        self.page.screenshot(
            path=self.artifacts / f"responsive-{self.label}-{name}.png", full_page=True
        )
        assert self.errors == [], f"{name} ({self.label}) : erreurs de console {self.errors}"
        if axe:
            assert serious_violations(self.page) == [], f"{name} ({self.label})"
        self.checked.append(name)

    def open_menu(self) -> None:
        """On a phone the header's tools sit behind the « Menu » button (DSFR modal)."""
        if self.phone:
            self.page.locator("#header-menu-button").click()
            expect(self.page.locator("#header-menu")).to_be_visible()

    def close_menu(self) -> None:
        if self.phone:
            self.page.locator("#header-menu .fr-btn--close").click()
            expect(self.page.locator("#header-menu")).to_be_hidden()

    def header_link(self, name: str | re.Pattern[str]):  # type: ignore[no-untyped-def]
        """A link of the header as the user sees it: in the menu on a phone, in the header's
        tools or navigation bar on a computer."""
        scope = "#header-menu" if self.phone else "header"
        return self.page.locator(scope).get_by_role("link", name=name).locator("visible=true").first

    def sign_in(self, email: str, *, totp: bool) -> None:
        """Through the header's « Se connecter » link, then the MFA stage for agents."""
        self.open_menu()
        self.header_link("Se connecter").click()
        self.page.fill("input[name=login]", email)
        self.page.fill("input[name=password]", DEMO_PASSWORD)
        self.page.get_by_role(
            "button", name=re.compile("Connexion|Se connecter|Sign In", re.I)
        ).click()
        if totp:
            enter_totp(self.page, DEMO_TOTP_SECRET)
        expect(self.page.locator("input[name=password]")).to_have_count(0)

    def sign_out(self) -> None:
        self.open_menu()
        self.header_link("Se déconnecter").click()
        self.page.locator("main form button[type=submit]").click()
        self.open_menu()
        expect(self.header_link("Se connecter")).to_be_visible()


def open_visit(
    browser: Browser, base: str, label: str, artifacts: Path, *, bypass_csp: bool = False
) -> Visit:
    viewport = dict(VIEWPORTS)[label]
    context = browser.new_context(viewport=viewport, bypass_csp=bypass_csp)  # type: ignore[arg-type]
    page = context.new_page()
    visit = Visit(page=page, context=context, base=base, label=label, artifacts=artifacts)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            visit.errors.append(f"{message.text} ({page.url})")

    def on_page_error(error: Error) -> None:
        visit.errors.append(f"{error.message} ({page.url})")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return visit
