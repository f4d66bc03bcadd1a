"""An ARS instructeur in real Chromium, on the review workspace, at 1280 px and at 390 px:
summary bar, side menu, the dossier's files downloaded from the page, the dossier taken
(and assigned), the proposal table's running total; axe finds nothing serious, the console
no error, the page never scrolls sideways."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from applications.models import Attachment
from essms_portal.accounts.models import Role
from tests.applications.helpers import ars, submitted_dossier
from tests.browser.helpers import enter_totp, serious_violations
from tests.factories import TEST_TOTP_SECRET

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("private_storage"),
]

PASSWORD = "Un-mot-de-passe-solide-2023"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _watch_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of the page, as they happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"la page défile horizontalement ({width} px)"


def _check(page: Page, errors: list[str], artifacts, name: str) -> None:
    page.screenshot(path=artifacts / f"review-{name}.png", full_page=True)
    assert serious_violations(page) == [], name
    assert errors == [], name
    _no_sideways_scroll(page)


def _signed_in_state(browser: Browser, base: str, email: str) -> dict:
    """Sign in once (password, then TOTP) and keep the session for the other viewports: a TOTP
    code is accepted once."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{base}/comptes/login/?next=/instruction/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Connexion|Se connecter|Sign In", re.I)).click()
    enter_totp(page, TEST_TOTP_SECRET)
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Dossiers à instruire", timeout=20_000
    )
    state = context.storage_state()
    context.close()
    return state


def test_review_workspace_at_desktop_and_phone_widths(live_server, browser, artifacts_dir):
    application, _porteur = submitted_dossier(count=15)
    for attachment in application.attachments.all():
        name = default_storage.save(f"dossiers/{attachment.pk}.pdf", ContentFile(PDF))
        Attachment.objects.filter(pk=attachment.pk).update(file=name)
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    instructeur.set_password(PASSWORD)
    instructeur.save()
    EmailAddress.objects.create(
        user=instructeur, email=instructeur.email, verified=True, primary=True
    )
    base = live_server.url
    url = f"{base}/instruction/dossiers/{application.pk}/"
    state = _signed_in_state(browser, base, instructeur.email)

    # Desktop: side menu beside the sections, summary bar, files downloadable from the page.
    desktop = browser.new_context(viewport=DESKTOP, storage_state=state, accept_downloads=True)
    page = desktop.new_page()
    errors = _watch_errors(page)
    page.goto(url)
    summary = page.locator(".review-summary")
    expect(summary).to_contain_text("ESSMS")
    expect(summary).to_contain_text("15")
    expect(summary).to_contain_text("Enveloppe restante")
    expect(summary).to_contain_text("non affecté")
    menu = page.get_by_role("navigation", name="Sections du dossier")
    expect(menu.get_by_role("link", name="Pièces (2)")).to_be_visible()
    _check(page, errors, artifacts_dir, "01-desktop-submitted")

    pieces = page.locator("#pieces")
    first = application.attachments.order_by("kind", "uploaded_at", "pk").first()
    with page.expect_download() as download:
        pieces.get_by_role("link", name=re.compile(re.escape(first.original_name))).click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as handle:
        assert handle.read() == PDF

    # The actions come last; taking the dossier assigns it to whoever took it.
    page.get_by_role("button", name="Prendre en instruction").click()
    # Generous timeouts after a form post: the shared test machine may be busy.
    expect(page.get_by_role("alert").filter(has_text="Action effectuée")).to_be_visible(
        timeout=20_000
    )
    expect(summary).to_contain_text(instructeur.email)
    expect(summary).to_contain_text("En instruction")
    _check(page, errors, artifacts_dir, "02-desktop-in-review")

    # The proposal is a table; its total follows what is typed.
    table = page.locator("#proposition table")
    expect(table.locator("tbody tr")).to_have_count(17)  # 15 ESSMS, passation, pilotage
    total = page.locator("#proposal-total")
    before = total.inner_text()
    amount = page.locator("input[name=amount_0]")
    computed = int(amount.get_attribute("data-computed") or 0)
    amount.fill(str(computed - 5000))
    expect(total).not_to_have_text(before)
    expected = int(re.sub(r"\D", "", before)) - 5000
    assert int(re.sub(r"\D", "", total.inner_text())) == expected
    desktop.close()

    # Phone: the side menu folds into a button; sections are reached from it; nothing
    # scrolls sideways but the tables, inside their focusable regions.
    phone = browser.new_context(viewport=PHONE, storage_state=state)
    page = phone.new_page()
    errors = _watch_errors(page)
    page.goto(url)
    expect(page.locator(".review-summary")).to_contain_text(instructeur.email)
    toggle = page.locator("button.fr-sidemenu__btn")
    expect(toggle).to_be_visible()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.locator("#review-menu").get_by_role("link", name="Historique").click()
    expect(page).to_have_url(re.compile("#historique$"))
    expect(page.locator("#historique")).to_contain_text("Pris en instruction")
    expect(page.locator("#historique")).to_contain_text("Affectation modifiée")
    region = page.get_by_role("region", name=re.compile("ESSMS de la grappe"))
    expect(region).to_have_attribute("tabindex", "0")
    _check(page, errors, artifacts_dir, "03-phone-in-review")
    phone.close()
