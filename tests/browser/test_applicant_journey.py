"""The gestionnaire's journey in real Chromium, from sign-up to the deposit receipt.

Every main page is screenshotted into test-artifacts/ and checked with axe-core (no serious or
critical violation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import Page, expect

from applications.models import Application, Attachment
from grappes.models import FinessCategory, OrganisationMember
from grappes.services import organisation_member_confirm
from tests.browser.helpers import serious_violations
from tests.factories import (
    ApplicationFactory,
    OrganisationFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Un-mot-de-passe-solide-2023"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


class Journey:
    """Screenshots and accessibility checks along the way."""

    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self.step = 0

    def check(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(
            path=self.artifacts / f"journey-{self.step:02d}-{name}.png", full_page=True
        )
        assert serious_violations(self.page) == [], name


def _link_in_last_mail(pattern: str) -> str:
    for message in reversed(mail.outbox):
        found = re.search(pattern, message.body)
        if found:
            return found.group(0)
    raise AssertionError(f"aucun courriel ne contient {pattern}")


def _login(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/comptes/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name=re.compile("Connexion|Se connecter|Sign In", re.I)).click()


def _choose(page: Page, select: str, text: str) -> None:
    """Select the option of ``select`` whose label contains ``text``."""
    value = page.locator(f"select[name={select}] option", has_text=text).first.get_attribute(
        "value"
    )
    page.select_option(f"select[name={select}]", value=value)


def _pdf(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(PDF)
    return path


def test_porteur_journey(live_server, page, browser, artifacts_dir, tmp_path):
    call_command("seed_demo")
    base = live_server.url
    cedres = OrganisationFactory(name="Association Les Cèdres")
    for _ in range(15):
        StructureFactory(organisation=cedres)
    parc = OrganisationFactory(name="Fondation du Parc")
    StructureFactory(organisation=parc, name="EHPAD du Parc")
    StructureFactory(
        organisation=parc, name="SSIAD du Parc", category=FinessCategory.objects.get(code="354")
    )
    member_b = UserFactory(email="b@parc.fr", password=PASSWORD)
    member_b.set_password(PASSWORD)
    member_b.save()
    EmailAddress.objects.create(user=member_b, email=member_b.email, verified=True, primary=True)
    confirmed_member(member_b, parc)
    staff = UserFactory(email="staff@cnsa.fr", is_staff=True)
    journey = Journey(page, artifacts_dir)

    # 1. Sign-up and e-mail verification.
    page.goto(f"{base}/comptes/signup/")
    page.fill("input[name=email]", "porteur@cedres.fr")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    journey.check("inscription")
    page.locator("form button[type=submit]").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    journey.check("verification-envoyee")
    page.goto(base + _link_in_last_mail(r"/comptes/confirm-email/[^\s]+"))
    journey.check("confirmer-courriel")
    page.locator("form button[type=submit]").first.click()
    _login(page, base, "porteur@cedres.fr")

    # 2. Attach to the organisation; staff confirms.
    page.goto(f"{base}/espace/organisations/rattacher/")
    page.fill("input[name=finess]", "010000017")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#id_finess_error")).to_contain_text("clé de contrôle")
    journey.check("rattachement-erreur")
    page.fill("input[name=finess]", cedres.finess)
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_text("Votre rattachement est en attente")).to_be_visible()
    organisation_member_confirm(
        member=OrganisationMember.objects.get(user__email="porteur@cedres.fr"), by=staff
    )

    # 3. A grappe of 15 ESSMS from the referential.
    page.goto(f"{base}/espace/")
    journey.check("mon-espace")
    page.goto(f"{base}/espace/organisations/{cedres.pk}/")
    journey.check("organisme")
    page.get_by_role("link", name="Créer une grappe portée par cet organisme").click()
    journey.check("creer-grappe")
    page.fill("input[name=name]", "Grappe DUI Paris Centre")
    page.locator("main form button[type=submit]").click()
    for _ in range(15):
        page.select_option("select[name=structure]", index=1)
        _choose(page, "solution", "Alpha DUI")
        page.get_by_role("button", name="Ajouter à la grappe").click()
    expect(page.locator("tbody tr")).to_have_count(15)
    page.fill("input[name=email]", "b@parc.fr")
    page.get_by_role("button", name="Envoyer l'invitation").click()
    journey.check("grappe-15")
    invitation = _link_in_last_mail(r"/espace/invitations/[^\s]+/")

    # 4. The second gestionnaire accepts and adds 2 ESSMS, one at 60 %.
    context_b = browser.new_context()
    page_b = context_b.new_page()
    _login(page_b, base, "b@parc.fr")
    journey_b = Journey(page_b, artifacts_dir)
    journey_b.step = 50
    journey_b.check("connexion")
    page_b.goto(base + invitation)
    journey_b.check("invitation")
    page_b.get_by_role("button", name="Rejoindre la grappe").click()
    for name, share in (("EHPAD du Parc", "100"), ("SSIAD du Parc", "60")):
        _choose(page_b, "structure", name)
        _choose(page_b, "solution", "Beta Social")
        page_b.fill("input[name=eligible_share]", share)
        page_b.get_by_role("button", name="Ajouter à la grappe").click()
    page_b.get_by_role("button", name="Confirmer la participation de mon organisme").click()
    expect(page_b.locator("tbody tr")).to_have_count(17)
    journey_b.check("membre-grappe")
    context_b.close()

    # 5. The application, with a live quote.
    page.reload()
    page.get_by_role("link", name="Déposer un dossier de financement").click()
    journey.check("nouveau-dossier")
    _choose(page, "call", "Île-de-France")
    page.locator("main form button[type=submit]").click()
    page.fill("input[name=procurement]", "15000")
    page.fill("input[name=steering]", "150000")
    expect(page.locator("#quote")).to_contain_text("dépasse le plafond")
    expect(page.locator("#quote-steering")).to_contain_text("100")
    journey.check("devis-plafonne")
    page.fill("input[name=steering]", "80000")
    expect(page.locator("#quote")).not_to_contain_text("dépasse le plafond")
    page.fill("textarea[name=justification]", "AMOA mutualisée et marché commun.")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Dossier enregistré.")).to_be_visible()

    # 6. Attachments, then submission and receipt.
    for kind, name in (("convention", "convention.pdf"), ("quote", "devis.pdf")):
        page.select_option("select[name=kind]", kind)
        page.set_input_files("input[name=file]", _pdf(tmp_path, name))
        page.get_by_role("button", name="Ajouter la pièce").click()
    page.select_option("select[name=kind]", "share_proof")
    _choose(page, "membership", "SSIAD du Parc")
    page.set_input_files("input[name=file]", _pdf(tmp_path, "heures.pdf"))
    page.get_by_role("button", name="Ajouter la pièce").click()
    assert (
        Attachment.objects.filter(application__grappe__name="Grappe DUI Paris Centre").count() == 3
    )
    journey.check("dossier-complet")
    page.get_by_role("button", name="Déposer le dossier").click()
    expect(page.get_by_role("heading", name="Récépissé de dépôt")).to_be_visible()
    journey.check("recepisse")
    page.pdf(path=artifacts_dir / "recepisse.pdf")
    application = Application.objects.get(grappe__name="Grappe DUI Paris Centre")
    assert application.status == "submitted"
    assert application.grappe.memberships.count() == 17


def test_another_organisation_gets_404_on_the_dossier_and_its_files(
    live_server, page, artifacts_dir
):
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    attachment = Attachment.objects.create(
        application=application,
        kind="convention",
        file="dossiers/x/convention.pdf",
        original_name="convention.pdf",
        content_type="application/pdf",
        size=10,
        uploaded_by=UserFactory(),
    )
    outsider = UserFactory(email="autre@ailleurs.fr")
    outsider.set_password(PASSWORD)
    outsider.save()
    EmailAddress.objects.create(user=outsider, email=outsider.email, verified=True, primary=True)
    confirmed_member(outsider, OrganisationFactory())
    _login(page, live_server.url, outsider.email)
    for path in (
        f"/espace/dossiers/{application.pk}/",
        f"/espace/dossiers/{application.pk}/pieces/{attachment.pk}/",
        f"/espace/dossiers/{application.pk}/recepisse/",
    ):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 404, path
    expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    page.screenshot(path=artifacts_dir / "autre-organisme-404.png", full_page=True)
