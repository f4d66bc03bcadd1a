"""Each role's journey in real Chromium, on a phone (390 px) and on a computer (1280 px), on the
demo data (issue #14): navigation reachable from the header (the DSFR menu on a phone), every
page visited free of axe serious or critical violations and of console errors, the footer's
mandatory pages, breadcrumbs on deep pages and the data export links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from applications.demo.simple import (
    DEMO_GRAPPE,
    EXCEEDING_GRAPPE,
    NATIONAL_GRAPPE,
    NOTIFIED_GRAPPE,
)
from applications.models import Application, Call
from tests.browser.responsive import VIEWPORTS, Visit, open_visit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("private_storage"),
]

LABELS = [label for label, _size in VIEWPORTS]


@pytest.fixture
def demo():
    call_command("seed_demo")


def _dossier(grappe: str) -> Application:
    return Application.objects.select_related("grappe").get(grappe__name=grappe)


def _footer_pages(visit: Visit) -> None:
    """The footer's four mandatory links, each to a page that says what the law asks."""
    footer = visit.page.locator("footer")
    expected = {
        "Accessibilité : partiellement conforme": "Défenseur des droits",
        "Mentions légales": "Directeur ou directrice de la publication",
        "Données personnelles": "mission d'intérêt public",
        "Plan du site": "Dossiers à instruire",
    }
    for link, text in expected.items():
        visit.page.locator("footer").get_by_role("link", name=link).click()
        expect(visit.page.locator("main")).to_contain_text(text)
        expect(visit.page.locator(".fr-breadcrumb")).to_have_count(1)
        visit.check(re.sub(r"\W+", "-", link.lower()).strip("-"))
    expect(footer).to_be_visible()


@pytest.mark.parametrize("label", LABELS)
def test_gestionnaire_journey(demo, live_server, browser, artifacts_dir, label):
    visit = open_visit(browser, live_server.url, label, artifacts_dir)
    visit.goto("/")
    visit.check("accueil-anonyme")
    if visit.phone:
        # The header's buttons are not shown on a phone: the menu mirrors them.
        expect(visit.page.locator(".fr-header__tools-links")).to_be_hidden()
    visit.open_menu()
    expect(visit.header_link("Créer un compte")).to_be_visible()
    visit.check("menu-anonyme")
    visit.close_menu()
    visit.sign_in("porteur@demo.esms.fr", totp=False)
    visit.open_menu()
    visit.header_link("Mon espace").click()
    expect(visit.page.get_by_role("heading", name="Mon espace", level=1)).to_be_visible()
    visit.check("mon-espace")

    draft = _dossier(DEMO_GRAPPE)
    visit.goto(f"/espace/organisations/{draft.grappe.porteur_id}/")
    visit.check("organisme")
    visit.goto(f"/espace/grappes/{draft.grappe_id}/")
    visit.check("grappe")
    visit.goto(f"/espace/dossiers/{draft.pk}/")
    breadcrumb = visit.page.locator(".fr-breadcrumb")
    expect(breadcrumb).to_contain_text(draft.grappe.name)
    visit.check("dossier-brouillon")

    notified = _dossier(NOTIFIED_GRAPPE)
    visit.goto(f"/espace/dossiers/{notified.pk}/recepisse/")
    visit.check("recepisse")
    # The receipt links back to its dossier (it had no way back).
    if visit.phone:
        visit.page.get_by_role("button", name="Voir le fil d'Ariane").click()
    visit.page.locator(".fr-breadcrumb").get_by_role(
        "link", name=f"Dossier n° {notified.pk}"
    ).click()
    expect(visit.page).to_have_url(f"{live_server.url}/espace/dossiers/{notified.pk}/")
    visit.check("dossier-notifie")

    _footer_pages(visit)
    visit.sign_out()
    visit.check("deconnecte")


def _back_office(visit: Visit, *, pending: bool) -> None:
    """The back office's sections from the header's navigation, and the export links."""
    visit.open_menu()
    visit.header_link("Dossiers à instruire").click()
    expect(visit.page.get_by_role("heading", name="Dossiers à instruire", level=1)).to_be_visible()
    visit.check("file")
    export = visit.page.get_by_role("link", name=re.compile("Dossiers, une ligne par dossier"))
    expect(export).to_have_count(2)
    with visit.page.expect_download() as download:
        export.first.click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert content.splitlines()[0].count(";") > 3, content[:200]
    visit.open_menu()
    visit.header_link("Décisions").click()
    expect(visit.page.get_by_role("heading", name="Décisions émises", level=1)).to_be_visible()
    expect(visit.page.get_by_role("link", name=re.compile("ESSMS des dossiers"))).to_have_count(2)
    visit.check("decisions")
    if pending:
        visit.goto("/instruction/decisions/a-emettre/")
        visit.check("decisions-a-emettre")
    visit.open_menu()
    visit.header_link("Tableau de bord").click()
    expect(visit.page.get_by_role("link", name=re.compile("Dossiers, une ligne"))).to_have_count(2)
    visit.check("tableau-de-bord")


def _review(visit: Visit, application: Application, name: str) -> None:
    visit.goto(f"/instruction/dossiers/{application.pk}/")
    expect(visit.page.get_by_role("heading", level=1)).to_contain_text(application.grappe.name)
    visit.check(name)


@pytest.mark.parametrize("label", LABELS)
def test_instructeur_journey(demo, live_server, browser, artifacts_dir, label):
    visit = open_visit(browser, live_server.url, label, artifacts_dir)
    visit.goto("/")
    visit.sign_in("instructeur@demo.esms.fr", totp=True)
    _back_office(visit, pending=False)
    _review(visit, _dossier(EXCEEDING_GRAPPE), "instruction-dossier")
    call = Call.objects.get(applications__grappe__name=EXCEEDING_GRAPPE)
    visit.goto(f"/instruction/appels/{call.pk}/classement/")
    expect(visit.page.locator(".fr-breadcrumb")).to_contain_text("Dossiers à instruire")
    visit.check("classement")
    visit.sign_out()


@pytest.mark.parametrize("label", LABELS)
def test_valideur_journey(demo, live_server, browser, artifacts_dir, label):
    visit = open_visit(browser, live_server.url, label, artifacts_dir)
    visit.goto("/")
    visit.sign_in("valideur@demo.esms.fr", totp=True)
    _back_office(visit, pending=True)
    _review(visit, _dossier(EXCEEDING_GRAPPE), "validation-dossier")
    visit.sign_out()


@pytest.mark.parametrize("label", LABELS)
def test_cnsa_journey(demo, live_server, browser, artifacts_dir, label):
    visit = open_visit(browser, live_server.url, label, artifacts_dir)
    visit.goto("/")
    visit.sign_in("cnsa@demo.esms.fr", totp=True)
    _back_office(visit, pending=True)
    _review(visit, _dossier(NATIONAL_GRAPPE), "dossier-national")
    visit.goto("/verifier/")
    visit.check("verification")
    visit.sign_out()


@pytest.mark.parametrize("label", LABELS)
def test_administrator_journey(demo, live_server, browser, artifacts_dir, label):
    visit = open_visit(browser, live_server.url, label, artifacts_dir)
    visit.goto("/")
    visit.sign_in("admin@demo.esms.fr", totp=True)
    _back_office(visit, pending=True)
    visit.open_menu()
    visit.header_link("Administration").click()
    expect(visit.page).to_have_url(f"{live_server.url}/admin/")
    visit.check("administration")
    visit.goto("/plan-du-site/")
    visit.check("plan-du-site")
