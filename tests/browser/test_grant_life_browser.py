"""The whole life of a grant in real Chromium (issue #15), each step by the person who takes it.

First walk: the CNSA issues the decision; the region's instructeur drafts the convention; the
porteur downloads it, enters the bank details (a wrong IBAN first) and deposits the signed copy;
the region's valideur countersigns (first tranche), transmits the order in a batch (CSV, XLSX,
PDF downloaded), marks it paid; the instructeur imports the DUI editor's measurements (a wrong
file first) and validates them; the valideur computes the full second tranche, transmits it,
marks it paid and closes the grant; the porteur sees it closed, the CNSA the usage targets.

Second walk: one ESSMS leaves after the countersignature: the instructeur prepares an amendment
(avenant), the valideur validates it (four eyes) and a titre de recette takes back the leaver's
share of the first tranche (transmitted, recovered); one measurement is rejected and 9 of the 14
ESSMS left meet the target: the second tranche is reduced pro rata; then closure.

Every page visited is screenshotted into test-artifacts/ and checked with axe-core (no serious
or critical violation); every document is downloaded through Playwright and read back. The
data is built by services up to the valideur's acceptance; the rest goes through the screens.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from applications.models import Application
from essms_portal.accounts.models import Role, User
from grants.indicators import indicators_ensure_defaults
from grants.models import (
    Amendment,
    BankDetails,
    Convention,
    FollowUpParameters,
    Measurement,
    PaymentBatch,
    PaymentOrder,
    UsageIndicator,
)
from grappes.models import Region
from tests.applications.helpers import decided_dossier, pdf_text
from tests.browser.helpers import enter_totp, serious_violations
from tests.factories import TEST_TOTP_SECRET, UserFactory, confirmed_member, verified_email

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("private_storage"),
]

PASSWORD = "Un-mot-de-passe-solide-2023"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
BIC = "AGRIFRPP"
SIRET = "73282932000074"
#: The one usage target kept for the walk: 15 checks per grant through the page instead of 45
#: (several targets per ESSMS are the settlement tests' business, tests/grants/).
TARGET = "DUI_ACTIF"
#: A form post may run the decision letter's rendering or the settlement: the shared test
#: machine can be slow, so the conditions waited on after a post get a generous timeout.
POSTED = 30_000


# --------------------------------------------------------------------------------------------
# Data, built by services up to the valideur's acceptance
# --------------------------------------------------------------------------------------------


def _person(role: str, *, region: str | None = None) -> User:
    """A user who signs in with PASSWORD (agents also with the test TOTP secret)."""
    user = UserFactory(
        role=role, region=Region.objects.get(code=region) if region else None, password=PASSWORD
    )
    user.set_password(PASSWORD)
    user.save()
    verified_email(user)
    return user


class Cast:
    """An accepted Île-de-France dossier of 15 ESSMS, its decision still to issue, and who acts
    on it. The campaign's measurement deadline was yesterday: the second tranche can be
    computed today (the settlement refuses before the deadline)."""

    def __init__(self) -> None:
        self.application: Application = decided_dossier()
        campaign = self.application.call.campaign
        indicators_ensure_defaults(campaign=campaign)
        UsageIndicator.objects.filter(campaign=campaign).exclude(code=TARGET).delete()
        self.indicator = UsageIndicator.objects.get(campaign=campaign, code=TARGET)
        self.deadline = timezone.localdate() - datetime.timedelta(days=1)
        FollowUpParameters.objects.filter(campaign=campaign).update(
            measurement_starts_on=datetime.date(campaign.year, 1, 1),
            measurement_deadline=self.deadline,
        )
        self.porteur = _person(Role.GESTIONNAIRE)
        confirmed_member(self.porteur, self.application.grappe.porteur)
        self.instructeur = _person(Role.ARS_INSTRUCTEUR, region="11")
        self.valideur = _person(Role.ARS_VALIDEUR, region="11")
        self.cnsa = _person(Role.CNSA_AGENT)

    @property
    def pk(self) -> int:
        return self.application.pk

    def finess_numbers(self) -> list[str]:
        return list(
            self.application.grappe.memberships.order_by("id").values_list(
                "structure__finess", flat=True
            )
        )

    def measurements_csv(self, *, meeting: int) -> bytes:
        """The DUI editor's file: the first ``meeting`` ESSMS reach the target, the others
        half of it, measured on the deadline."""
        threshold = self.indicator.threshold
        lines = ["finess;indicator;value;measured_on"]
        for index, finess in enumerate(self.finess_numbers()):
            value = threshold if index < meeting else threshold / 2
            lines.append(f"{finess};{TARGET};{value:.2f};{self.deadline.isoformat()}")
        return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------------------------
# The browser side
# --------------------------------------------------------------------------------------------


class Walk:
    """One browser context per person, each signed in once (a TOTP code is accepted once);
    a numbered screenshot and an axe check at every step."""

    def __init__(self, browser: Browser, base: str, artifacts: Path, name: str) -> None:
        self.browser = browser
        self.base = base
        self.artifacts = artifacts
        self.name = name
        self.step = 0
        self.contexts: list[BrowserContext] = []

    def sign_in(self, user: User, landing: str) -> Page:
        """A new context signed in as ``user`` (TOTP for agents), on ``landing``."""
        context = self.browser.new_context(accept_downloads=True)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(f"{self.base}/comptes/login/?next={landing}")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name=re.compile("Connexion|Se connecter|Sign In", re.I)).click()
        if user.role != Role.GESTIONNAIRE:  # agents are enrolled in MFA by the factory
            with page.expect_navigation(timeout=POSTED):
                enter_totp(page, TEST_TOTP_SECRET)
            if "/2fa/" in page.url:  # the code's 30 s window closed on its way: type the next
                enter_totp(page, TEST_TOTP_SECRET)
        page.wait_for_url(f"{self.base}{landing}", timeout=POSTED)
        return page

    def check(self, page: Page, name: str) -> None:
        self.step += 1
        page.screenshot(
            path=self.artifacts / f"grant-{self.name}-{self.step:02d}-{name}.png", full_page=True
        )
        assert serious_violations(page) == [], name

    def goto(self, page: Page, path: str) -> None:
        page.goto(f"{self.base}{path}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def walks(
    live_server: Any, browser: Browser, artifacts_dir: Path
) -> Iterator[Callable[[str], Walk]]:
    """Start a named walk; its browser contexts are closed after the test."""
    started: list[Walk] = []

    def start(name: str) -> Walk:
        started.append(Walk(browser, live_server.url, artifacts_dir, name))
        return started[-1]

    yield start
    for walk in started:
        walk.close()


def _download(page: Page, click: Callable[[], Any]) -> tuple[str, bytes]:
    """What ``click`` makes the browser download: its suggested name and its bytes."""
    with page.expect_download(timeout=POSTED) as info:
        click()
    download = info.value
    path = download.path()
    assert path is not None, download.failure()
    return download.suggested_filename, Path(path).read_bytes()


def _signed(order: PaymentOrder) -> int:
    """The amount as the finance department books it: a titre de recette is negative."""
    return -int(order.amount) if order.kind == PaymentOrder.Kind.RECOVERY else int(order.amount)


def _told(page: Page, text: str) -> None:
    """The flash message of the last action."""
    expect(page.get_by_role("alert").filter(has_text=text)).to_be_visible(timeout=POSTED)


def _order_row(page: Page, order: PaymentOrder) -> Locator:
    return page.get_by_role("row").filter(has_text=order.number)


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def cnsa_issues_the_decision(walk: Walk, cast: Cast) -> Page:
    """The CNSA agent issues the decision from the pending list (kept signed in for the
    targets page at the end: a TOTP code is accepted once)."""
    page = walk.sign_in(cast.cnsa, "/instruction/decisions/a-emettre/")
    expect(page.get_by_role("heading", name="Décisions à émettre", level=1)).to_be_visible()
    walk.check(page, "cnsa-decisions-a-emettre")
    page.get_by_role("link", name=f"Émettre la décision du dossier n° {cast.pk}").click()
    confirm = page.get_by_role(
        "button", name=f"Confirmer l'émission de la décision du dossier n° {cast.pk}"
    )
    expect(confirm).to_be_visible()
    walk.check(page, "cnsa-confirmation")
    confirm.click()
    _told(page, "émise et notifiée au porteur")
    walk.check(page, "cnsa-decision-emise")
    cast.application.refresh_from_db()
    assert cast.application.decision.outcome == "accepted"
    return page


def instructeur_drafts_the_convention(walk: Walk, cast: Cast, page: Page) -> Convention:
    expect(page.get_by_role("heading", name="Suivi des financements", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"n° {cast.pk}")
    expect(row).to_contain_text("À rédiger")
    walk.check(page, "instructeur-file-de-suivi")
    row.get_by_role("link").click()
    draft = page.get_by_role("button", name="Rédiger la convention")
    expect(draft).to_be_visible()
    walk.check(page, "instructeur-subvention")
    draft.click()
    _told(page, "Convention rédigée")
    convention = Convention.objects.get(decision__application=cast.application)
    expect(page.get_by_text(f"Convention n° {convention.number}")).to_be_visible()
    walk.check(page, "instructeur-convention-redigee")
    name, data = _download(
        page, page.get_by_role("link", name="Télécharger la convention à signer (PDF)").click
    )
    assert name == f"convention-{convention.number}.pdf"
    assert data.startswith(b"%PDF-")
    assert convention.number in pdf_text(data)
    return convention


def porteur_signs(walk: Walk, cast: Cast, convention: Convention, *, mistype: bool) -> Page:
    """The porteur downloads the convention, enters the bank details (``mistype``: first with
    a wrong IBAN, refused next to its field) and deposits the signed copy."""
    # From the dossier's page, as a porteur finds it: the decision's callout links the follow-up.
    page = walk.sign_in(cast.porteur, f"/espace/dossiers/{cast.pk}/")
    page.get_by_role("link", name=re.compile("^Suivi du financement")).click()
    page.wait_for_url(f"**/espace/dossiers/{cast.pk}/suivi/")
    expect(page.get_by_text(f"Convention n° {convention.number}")).to_be_visible()
    walk.check(page, "porteur-convention-a-signer")
    _name, data = _download(
        page, page.get_by_role("link", name="Télécharger la convention à signer (PDF)").click
    )
    assert data.startswith(b"%PDF-") and convention.number in pdf_text(data)

    rib = {"name": "rib.pdf", "mimeType": "application/pdf", "buffer": PDF}
    if mistype:  # the form comes back with the error next to the field, nothing stored
        page.get_by_label("Titulaire du compte").fill("Association Horizon")
        page.get_by_label("SIRET du bénéficiaire").fill(SIRET)
        page.get_by_label(re.compile(r"^IBAN")).fill("FR76 3000 6000 0112 3456 7890 180")
        page.get_by_label(re.compile(r"^BIC")).fill(BIC)
        page.get_by_label("Relevé d'identité bancaire (RIB)").set_input_files(rib)
        page.get_by_role("button", name="Enregistrer les coordonnées bancaires").click()
        expect(
            page.get_by_role("heading", name=re.compile("^Coordonnées bancaires — dossier"))
        ).to_be_visible(timeout=POSTED)
        expect(page.locator(".fr-error-text").filter(has_text="IBAN")).to_be_visible()
        walk.check(page, "porteur-iban-refuse")
        assert not BankDetails.objects.filter(application=cast.application).exists()

    page.get_by_label("Titulaire du compte").fill("Association Horizon")
    page.get_by_label("SIRET du bénéficiaire").fill(SIRET)
    page.get_by_label(re.compile(r"^IBAN")).fill(IBAN)
    page.get_by_label(re.compile(r"^BIC")).fill(BIC)
    page.get_by_label("Relevé d'identité bancaire (RIB)").set_input_files(rib)
    page.get_by_role("button", name="Enregistrer les coordonnées bancaires").click()
    _told(page, "Coordonnées bancaires enregistrées.")
    expect(page.get_by_text("IBAN FR7630006000011234567890189")).to_be_visible()
    walk.check(page, "porteur-rib-enregistre")

    page.get_by_label("Convention signée par le représentant du porteur").set_input_files(
        {"name": "convention-signee.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Déposer la convention signée").click()
    _told(page, "Convention signée déposée")
    expect(page.get_by_role("link", name="Télécharger l'exemplaire signé déposé")).to_be_visible()
    walk.check(page, "porteur-convention-deposee")
    return page


def valideur_countersigns(walk: Walk, cast: Cast, page: Page) -> PaymentOrder:
    walk.goto(page, f"/suivi/{cast.pk}/")
    countersign = page.get_by_role(
        "button", name="Contresigner la convention et émettre la première tranche"
    )
    expect(countersign).to_be_visible()
    walk.check(page, "valideur-convention-signee")
    _name, data = _download(
        page, page.get_by_role("link", name="télécharger l'exemplaire signé").click
    )
    assert data == PDF
    countersign.click()
    _told(page, "Convention contresignée")
    first = PaymentOrder.objects.get(application=cast.application, kind="first")
    expect(_order_row(page, first)).to_contain_text("Émis")
    walk.check(page, "valideur-premiere-tranche-emise")
    return first


def valideur_transmits(
    walk: Walk, cast: Cast, page: Page, orders: list[PaymentOrder], name: str
) -> PaymentBatch:
    """From the follow-up queue the issued orders go to the finance department as a numbered
    batch; its CSV, XLSX and PDF summary are downloaded and read back."""
    walk.goto(page, "/suivi/")
    row = page.get_by_role("row").filter(has_text=f"n° {cast.pk}")
    count = len(orders)
    expect(row).to_contain_text(f"{count} ordre{'s' if count > 1 else ''} à transmettre")
    walk.check(page, f"valideur-{name}-a-transmettre")
    page.get_by_role("button", name="Transmettre les ordres émis").click()
    _told(page, f"{count} ordre(s) transmis au service financier")
    batch = PaymentBatch.objects.get(orders=orders[0])
    expect(
        page.get_by_role("heading", name=f"Bordereau n° {batch.number}", level=1)
    ).to_be_visible()
    listed = page.get_by_role("region", name="Ordres du bordereau").get_by_role("row")
    for order in orders:
        expect(listed.filter(has_text=order.number)).to_contain_text(
            "Transmis au service financier"
        )
    walk.check(page, f"valideur-{name}-bordereau")
    expected = {(order.number, str(_signed(order)), batch.number) for order in orders}

    filename, data = _download(page, page.get_by_role("link", name="Télécharger (CSV)").click)
    assert filename == f"bordereau-{batch.number}.csv"
    assert data.startswith("\ufeff".encode()), "CSV sans BOM UTF-8"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert {(r["numero"], r["montant_euros"], r["bordereau"]) for r in rows} == expected

    filename, data = _download(page, page.get_by_role("link", name="Télécharger (XLSX)").click)
    assert filename == f"bordereau-{batch.number}.xlsx" and data.startswith(b"PK")
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet is not None
    header, *cells = list(sheet.iter_rows(values_only=True))
    columns = {key: index for index, key in enumerate(header)}
    assert {
        (r[columns["numero"]], str(r[columns["montant_euros"]]), r[columns["bordereau"]])
        for r in cells
    } == expected

    filename, data = _download(
        page, page.get_by_role("link", name="Télécharger le bordereau (PDF)").click
    )
    assert filename == f"bordereau-{batch.number}.pdf" and data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert batch.number in text and all(order.number in text for order in orders)
    for order in orders:
        order.refresh_from_db()
        assert order.status == PaymentOrder.Status.EXPORTED
    return batch


def valideur_marks_paid(walk: Walk, cast: Cast, page: Page, order: PaymentOrder, name: str) -> None:
    """The payment (or, for a titre de recette, the recovery) recorded on the grant's page."""
    recovery = order.kind == PaymentOrder.Kind.RECOVERY
    walk.goto(page, f"/suivi/{cast.pk}/")
    row = _order_row(page, order)
    expect(row).to_contain_text("Transmis au service financier")
    walk.check(page, f"valideur-{name}-transmis")
    today = timezone.localdate()
    row.get_by_label("Recouvré le" if recovery else "Payé le").fill(today.isoformat())
    row.get_by_role("button", name="Marquer recouvré" if recovery else "Marquer payé").click()
    _told(page, "Recouvrement enregistré." if recovery else "Paiement enregistré.")
    expect(_order_row(page, order)).to_contain_text("Recouvré" if recovery else "Payé")
    walk.check(page, f"valideur-{name}-{'recouvre' if recovery else 'paye'}")
    order.refresh_from_db()
    assert (order.status, order.paid_on) == ("paid", today)


def instructeur_imports_measurements(walk: Walk, cast: Cast, page: Page, *, meeting: int) -> None:
    walk.goto(page, "/suivi/")
    page.get_by_role("link", name="Importer des mesures d'usage (CSV)").click()
    expect(
        page.get_by_role("heading", name="Importer des mesures d'usage", level=1)
    ).to_be_visible()
    walk.check(page, "instructeur-import-mesures")
    upload = page.get_by_label("Fichier de mesures (CSV)")

    # A file with a wrong line is refused as a whole, the line told.
    bad = cast.measurements_csv(meeting=meeting) + b"123;DUI_ACTIF;1;2024-01-01\n"
    upload.set_input_files({"name": "mesures.csv", "mimeType": "text/csv", "buffer": bad})
    page.get_by_role("button", name="Importer", exact=True).click()
    refused = page.get_by_role("region", name="Lignes refusées").get_by_role("row")
    count = len(cast.finess_numbers())
    # The header, a line per ESSMS, then the bad line.
    expect(refused.filter(has_text="FINESS")).to_contain_text(str(count + 2), timeout=POSTED)
    walk.check(page, "instructeur-import-refuse")
    assert not Measurement.objects.filter(indicator=cast.indicator).exists()

    upload = page.get_by_label("Fichier de mesures (CSV)")
    good = cast.measurements_csv(meeting=meeting)
    upload.set_input_files({"name": "mesures.csv", "mimeType": "text/csv", "buffer": good})
    page.get_by_role("button", name="Importer", exact=True).click()
    _told(page, f"{count} mesure(s) lue(s) : {count} nouvelle(s)")
    expect(page.get_by_role("row").filter(has_text=f"n° {cast.pk}")).to_contain_text(
        "Mesures à vérifier"
    )
    walk.check(page, "instructeur-mesures-importees")


def instructeur_checks_measurements(
    walk: Walk,
    cast: Cast,
    page: Page,
    *,
    reject: frozenset[str] = frozenset(),
) -> None:
    """Each measurement validated (or rejected with a reason) from the grant's page."""
    walk.goto(page, f"/suivi/{cast.pk}/")
    expect(page.get_by_role("heading", name="Cibles d'usage")).to_be_visible()
    walk.check(page, "instructeur-mesures-a-verifier")
    for index, finess in enumerate(cast.finess_numbers()):
        group = page.get_by_role("group", name=f"Mesure {TARGET} de {finess}")
        form = page.locator("form").filter(has=group)
        if finess in reject:
            choice = "Rejeter"
            group.get_by_label("Commentaire (obligatoire pour un rejet)").fill(
                "Extraction incomplète : le mois de référence manque."
            )
        else:
            choice = "Valider"
        # The DSFR radio is drawn by its label, which takes the click (as a user's would).
        group.locator("label", has_text=re.compile(f"^{choice}$")).click()
        expect(group.get_by_label(choice)).to_be_checked()
        form.get_by_role("button", name="Enregistrer").click()
        expect(group).to_have_count(0, timeout=POSTED)
        if index == 0:
            _told(page, "Mesure vérifiée.")
            walk.check(page, "instructeur-premiere-mesure-verifiee")
    expect(page.get_by_role("region", name="Mesures d'usage")).not_to_contain_text("À vérifier")
    walk.check(page, "instructeur-mesures-verifiees")
    statuses = set(
        Measurement.objects.filter(indicator=cast.indicator).values_list("status", flat=True)
    )
    assert "pending" not in statuses


def valideur_settles(walk: Walk, cast: Cast, page: Page, *, met: int, funded: int) -> PaymentOrder:
    walk.goto(page, f"/suivi/{cast.pk}/")
    callout = page.locator(".fr-callout").filter(has_text="Seconde tranche si elle était calculée")
    expect(callout).to_contain_text(f"{met} ESSMS sur {funded} atteignent leurs cibles")
    walk.check(page, "valideur-apercu-seconde-tranche")
    page.get_by_role("link", name="Calculer la seconde tranche et émettre l'ordre").click()
    # The confirmation page: the same figures, once more, before the irreversible calculation.
    page.wait_for_url(f"**/suivi/{cast.pk}/seconde-tranche/confirmer/")
    expect(page.get_by_role("heading", name="Le calcul est définitif")).to_be_visible()
    expect(page.get_by_role("cell", name=f"{met} sur {funded}")).to_be_visible()
    walk.check(page, "valideur-confirme-seconde-tranche")
    page.get_by_role("button", name="Confirmer le calcul de la seconde tranche").click()
    _told(page, "Seconde tranche calculée")
    # The settlement's order: the latest one (a titre de recette may precede it).
    order = PaymentOrder.objects.filter(application=cast.application).order_by("-id").first()
    assert order is not None and order.kind != PaymentOrder.Kind.FIRST
    expect(_order_row(page, order)).to_contain_text("Émis")
    walk.check(page, "valideur-seconde-tranche-emise")
    return order


def instructeur_prepares_an_amendment(
    walk: Walk, cast: Cast, page: Page, leaver: dict[str, Any]
) -> Amendment:
    walk.goto(page, f"/suivi/{cast.pk}/")
    reason = page.get_by_label(re.compile("^Motif de l'avenant"))
    expect(reason).to_be_visible()
    walk.check(page, "instructeur-avant-avenant")
    reason.fill(f"Sortie de {leaver['name']} du projet au 1er mars : l'établissement ferme.")
    leaving = page.get_by_role("group", name=re.compile("^ESSMS qui quittent le projet"))
    # The DSFR checkbox is drawn by its label, which takes the click (as a user's would).
    leaving.locator("label", has_text=f"({leaver['finess']})").click()
    expect(leaving.get_by_label(f"{leaver['name']} ({leaver['finess']})")).to_be_checked()
    page.get_by_role("button", name="Préparer un avenant").click()
    _told(page, "préparé : un valideur qui ne l'a pas préparé doit le valider")
    amendment = Amendment.objects.get(convention__decision__application=cast.application)
    section = page.locator("#avenants")
    expect(section).to_contain_text(f"Avenant n° {amendment.number}")
    expect(section).to_contain_text(f"{leaver['name']} ({leaver['finess']})")
    # The one who prepared it does not validate it (four eyes).
    expect(page.get_by_role("button", name="Valider l'avenant")).to_have_count(0)
    walk.check(page, "instructeur-avenant-prepare")
    _name, data = _download(
        page,
        page.get_by_role("link", name=f"Télécharger l'avenant n° {amendment.number} (PDF)").click,
    )
    assert data.startswith(b"%PDF-") and amendment.number in pdf_text(data)
    return amendment


def valideur_validates_the_amendment(
    walk: Walk, cast: Cast, page: Page, amendment: Amendment
) -> PaymentOrder:
    walk.goto(page, f"/suivi/{cast.pk}/")
    validate = page.get_by_role("button", name="Valider l'avenant")
    expect(validate).to_be_visible()
    walk.check(page, "valideur-avenant-a-valider")
    validate.click()
    _told(page, "Avenant validé")
    recovery = PaymentOrder.objects.get(application=cast.application, kind="recovery")
    expect(_order_row(page, recovery)).to_contain_text("Émis")
    expect(page.locator("#avenants")).to_contain_text("Validé")
    walk.check(page, "valideur-avenant-valide-titre-de-recette")
    assert amendment.number in recovery.reasons[0]
    return recovery


def valideur_closes(walk: Walk, cast: Cast, page: Page) -> None:
    """Everything paid or recovered: the grant is closed and leaves the queue."""
    walk.goto(page, f"/suivi/{cast.pk}/")
    close = page.get_by_role("button", name="Solder le dossier")
    expect(close).to_be_visible()
    walk.check(page, "valideur-solde-possible")
    close.click()
    _told(page, "Dossier soldé")
    expect(page.locator("#solde")).to_contain_text("le dossier est soldé")
    expect(page.get_by_role("button", name="Solder le dossier")).to_have_count(0)
    walk.check(page, "valideur-dossier-solde")
    assert Convention.objects.get(decision__application=cast.application).status == "closed"
    # The follow-up queue from the back office's menu.
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Suivi des financements"
    ).click()
    page.wait_for_url("**/suivi/")
    expect(page.get_by_role("row").filter(has_text=f"n° {cast.pk} —")).to_have_count(0)
    page.get_by_role("link", name="Dossiers soldés (1)").click()
    expect(page.get_by_role("row").filter(has_text=f"n° {cast.pk} —")).to_contain_text("Soldée")
    walk.check(page, "valideur-dossiers-soldes")


def porteur_sees_the_grant_closed(walk: Walk, page: Page, orders: list[PaymentOrder]) -> None:
    page.reload()
    expect(page.get_by_role("heading", name="Soldé", level=2)).to_be_visible()
    # Nothing is paid any more: no bank details form, the convention no longer "to sign".
    expect(page.get_by_role("button", name="Enregistrer les coordonnées bancaires")).to_have_count(
        0
    )
    expect(page.get_by_role("link", name="Télécharger la convention (PDF)")).to_be_visible()
    for order in orders:
        paid = "Recouvré" if order.kind == PaymentOrder.Kind.RECOVERY else "Payé"
        expect(_order_row(page, order)).to_contain_text(paid)
    walk.check(page, "porteur-dossier-solde")


def cnsa_reads_the_targets(walk: Walk, page: Page) -> None:
    """The national view of the usage targets, the closed grant's region among them."""
    walk.goto(page, "/suivi/cibles/")
    expect(page.get_by_role("heading", name=re.compile("^Cibles d'usage"), level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="DUI actifs", level=2)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Île-de-France").first).to_be_visible()
    walk.check(page, "cnsa-cibles-d-usage")


# --------------------------------------------------------------------------------------------
# The walks
# --------------------------------------------------------------------------------------------


def test_the_life_of_a_grant_whose_targets_are_met(walks, browser):
    """Every target met: the full second tranche. (``browser`` is asked for so that the
    conftest watches the contexts the walk opens for CSP violations.)"""
    cast = Cast()
    walk = walks("cibles-atteintes")

    cnsa = cnsa_issues_the_decision(walk, cast)
    total = int(cast.application.decision.total)

    instructeur = walk.sign_in(cast.instructeur, "/suivi/")
    convention = instructeur_drafts_the_convention(walk, cast, instructeur)
    porteur = porteur_signs(walk, cast, convention, mistype=True)

    valideur = walk.sign_in(cast.valideur, f"/suivi/{cast.pk}/")
    first = valideur_countersigns(walk, cast, valideur)
    assert int(first.amount) == total // 2
    valideur_transmits(walk, cast, valideur, [first], "premiere-tranche")
    valideur_marks_paid(walk, cast, valideur, first, "premiere-tranche")

    porteur.reload()
    expect(_order_row(porteur, first)).to_contain_text("Payé")
    walk.check(porteur, "porteur-premiere-tranche-payee")

    instructeur_imports_measurements(walk, cast, instructeur, meeting=15)
    instructeur_checks_measurements(walk, cast, instructeur)

    second = valideur_settles(walk, cast, valideur, met=15, funded=15)
    assert (second.kind, int(second.amount)) == ("second", total - total // 2)
    valideur_transmits(walk, cast, valideur, [second], "seconde-tranche")
    valideur_marks_paid(walk, cast, valideur, second, "seconde-tranche")
    valideur_closes(walk, cast, valideur)

    porteur_sees_the_grant_closed(walk, porteur, [first, second])
    expect(porteur.get_by_role("region", name="Mesures d'usage")).to_contain_text("Validée")
    cnsa_reads_the_targets(walk, cnsa)


def test_a_grant_with_a_leaver_and_missed_targets(walks, browser):
    """One ESSMS leaves after the countersignature: an amendment lowers the total and a titre
    de recette takes back its share of the first tranche; 9 of the 14 ESSMS left meet the
    target (one measurement rejected): the second tranche is reduced pro rata."""
    cast = Cast()
    walk = walks("avenant-cibles-manquees")

    cnsa = cnsa_issues_the_decision(walk, cast)
    total = int(cast.application.decision.total)
    instructeur = walk.sign_in(cast.instructeur, "/suivi/")
    convention = instructeur_drafts_the_convention(walk, cast, instructeur)
    porteur = porteur_signs(walk, cast, convention, mistype=False)
    valideur = walk.sign_in(cast.valideur, f"/suivi/{cast.pk}/")
    first = valideur_countersigns(walk, cast, valideur)
    valideur_transmits(walk, cast, valideur, [first], "premiere-tranche")
    valideur_marks_paid(walk, cast, valideur, first, "premiere-tranche")

    # An ESSMS leaves the project: the porteur tells the ARS, whose amendment takes it out of
    # the grappe (frozen since the submission) at its validation.
    convention.refresh_from_db()
    leaver = convention.snapshot["lines"][0]
    amended = total - int(leaver["amount"])

    amendment = instructeur_prepares_an_amendment(walk, cast, instructeur, leaver)
    assert (amendment.snapshot["before"]["total"], amendment.snapshot["total"]) == (
        total,
        amended,
    )
    recovery = valideur_validates_the_amendment(walk, cast, valideur, amendment)
    grappe = cast.application.grappe
    assert not grappe.memberships.filter(structure__finess=leaver["finess"]).exists()
    assert int(recovery.amount) == total // 2 - amended // 2
    valideur_transmits(walk, cast, valideur, [recovery], "titre-de-recette")
    valideur_marks_paid(walk, cast, valideur, recovery, "titre-de-recette")

    porteur.reload()
    expect(porteur.get_by_role("heading", name="Avenants à la convention")).to_be_visible()
    expect(_order_row(porteur, recovery)).to_contain_text("Recouvré")
    walk.check(porteur, "porteur-avenant-et-titre-de-recette")
    _name, data = _download(
        porteur, porteur.get_by_role("link", name="télécharger l'avenant (PDF)").click
    )
    assert data.startswith(b"%PDF-") and amendment.number in pdf_text(data)

    # 10 of the 14 ESSMS reach the target in the editor's file; the first one's measurement
    # is rejected on check: 9 meet it.
    finess = cast.finess_numbers()
    assert len(finess) == 14
    instructeur_imports_measurements(walk, cast, instructeur, meeting=10)
    instructeur_checks_measurements(walk, cast, instructeur, reject=frozenset({finess[0]}))

    second = valideur_settles(walk, cast, valideur, met=9, funded=14)
    rest = amended - amended // 2
    assert second.kind == "second"
    assert int(second.amount) == rest * 9 // 14 < rest
    valideur_transmits(walk, cast, valideur, [second], "seconde-tranche-reduite")
    valideur_marks_paid(walk, cast, valideur, second, "seconde-tranche-reduite")
    valideur_closes(walk, cast, valideur)

    porteur_sees_the_grant_closed(walk, porteur, [first, recovery, second])
    cnsa_reads_the_targets(walk, cnsa)
