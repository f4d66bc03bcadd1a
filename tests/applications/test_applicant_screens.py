"""Applicant screens (issue #14): what was granted, confirmations before irreversible actions,
deleting a wrong attachment, French wording (amounts, shares, history events)."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from applications.decisions.services import decision_issue
from applications.models import Application, Attachment, ProposedAmount
from applications.workflow import Status
from essms_portal.accounts.models import Role
from grappes.models import GrappeMembership
from tests.applications.helpers import ars, cnsa_agent, decided_dossier, submitted_dossier
from tests.dbstate import assert_unchanged, db_state
from tests.factories import (
    ApplicationFactory,
    GrappeMembershipFactory,
    OrganisationFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
NNBSP, NBSP = "\u202f", "\u00a0"


def _page(response) -> str:
    return html.unescape(response.content.decode())


def _text(response) -> str:
    """The page's text, tags dropped and spaces normalised (narrow and no-break ones kept)."""
    return re.sub(r"[ \n\t]+", " ", re.sub(r"<[^>]+>", " ", _page(response)))


def _porteur_member(application: Application):
    user = UserFactory()
    confirmed_member(user, application.grappe.porteur)
    return user


# --- #14.3: the porteur sees what was granted -------------------------------------------------


def test_the_dossier_page_shows_the_granted_amounts_and_the_reduction_reason(client):
    application = decided_dossier()
    line = ProposedAmount.objects.filter(application=application, line__startswith="structure:")
    reduced = line.order_by("line").first()
    assert reduced is not None and reduced.computed > 10_000
    ProposedAmount.objects.filter(pk=reduced.pk).update(
        proposed=10_000, reason="Devis surévalué au regard du marché."
    )
    decision = decision_issue(application=application, by=cnsa_agent())
    client.force_login(_porteur_member(application))

    text = _text(client.get(reverse("dossiers:detail", args=[application.pk])))

    total = decision.snapshot["total"]
    assert "Montants accordés" in text
    assert f"10{NNBSP}000{NBSP}€" in text
    assert "Devis surévalué au regard du marché." in text
    granted = f"{total:,}".replace(",", NNBSP) + f"{NBSP}€"
    assert f"Attribution notifiée le {decision.issued_on:%d/%m/%Y} : {granted} accordés" in text
    # The quote computed at submission is no longer presented as what the dossier gets.
    assert "Chiffrage par ligne" not in text
    assert "Éligible" not in text


def test_a_refusal_shows_its_motivation_instead_of_the_quote(client):
    application = decided_dossier("reject")
    decision_issue(application=application, by=cnsa_agent())
    client.force_login(_porteur_member(application))
    text = _text(client.get(reverse("dossiers:detail", args=[application.pk])))
    assert "Motifs du refus" in text
    assert "Gouvernance de la grappe insuffisante." in text
    assert "Chiffrage par ligne" not in text


# --- #14.7 and #14.8: wording, names, shares, history ------------------------------------------


def test_the_quote_names_each_essms_and_shows_shares_as_percentages(client):
    grappe = grappe_with_structures(2)
    GrappeMembership.objects.filter(grappe=grappe).update(eligible_share="0.5")
    dossier = ApplicationFactory(grappe=grappe)
    user = _porteur_member(dossier)
    client.force_login(user)
    page = _text(client.get(reverse("dossiers:detail", args=[dossier.pk])))
    for membership in grappe.memberships.select_related("structure"):
        # The quote names each ESSMS next to its FINESS.
        assert f"{membership.structure.name} FINESS {membership.structure.finess}" in page
    assert "50 %" in page
    assert "0,5000" not in page and "0.5000" not in page


def test_submitted_dossier_history_and_requests_read_as_french(client):
    application, porteur = submitted_dossier()
    Application.objects.filter(pk=application.pk).update(
        requested_procurement=25_000, requested_steering=8_000
    )
    client.force_login(porteur)
    text = _text(client.get(reverse("dossiers:detail", args=[application.pk])))
    assert f"Passation du marché : 25{NNBSP}000{NBSP}€" in text
    assert f"Pilotage : 8{NNBSP}000{NBSP}€" in text
    assert "25000 €" not in text
    assert "Dossier déposé" in text
    assert "— Déposer (" not in text


# --- #14.6: confirmations before irreversible actions ------------------------------------------


def test_withdrawing_asks_for_confirmation_first(client):
    application, porteur = submitted_dossier()
    client.force_login(porteur)
    detail = _page(client.get(reverse("dossiers:detail", args=[application.pk])))
    url = reverse("dossiers:withdraw", args=[application.pk])
    assert f'href="{url}"' in detail  # a link to the confirmation, not a one-click form
    before = db_state()
    response = client.get(url)
    assert response.status_code == 200
    page = _page(response)
    assert "Le retrait est définitif" in page
    assert f'<form method="post" action="{url}">' in page
    assert_unchanged(before)  # asking changes nothing
    assert client.post(url).status_code == 302
    application.refresh_from_db()
    assert application.status == Status.WITHDRAWN
    # Once withdrawn, the confirmation page is not offered any more.
    response = client.get(url)
    assert response.status_code == 302


def test_removing_an_essms_asks_for_confirmation_first(client):
    grappe = grappe_with_structures(2)
    user = UserFactory()
    confirmed_member(user, grappe.porteur)
    membership = grappe.memberships.select_related("structure").first()
    client.force_login(user)
    url = reverse("organisations:membership_remove", args=[grappe.pk, membership.pk])
    assert f'href="{url}"' in _page(client.get(reverse("organisations:grappe", args=[grappe.pk])))
    before = db_state()
    page = _page(client.get(url))
    assert f"Retirer {membership.structure.name} (FINESS {membership.structure.finess})" in page
    assert_unchanged(before)
    assert client.post(url).status_code == 302
    assert not GrappeMembership.objects.filter(pk=membership.pk).exists()


def test_someone_who_may_not_remove_the_essms_gets_no_confirmation_page(client):
    grappe = grappe_with_structures(1)
    partner = OrganisationFactory()
    GrappeMembershipFactory(grappe=grappe, structure=StructureFactory(organisation=partner))
    user = UserFactory()
    confirmed_member(user, grappe.porteur)
    client.force_login(user)
    partners = GrappeMembership.objects.get(grappe=grappe, structure__organisation=partner)
    url = reverse("organisations:membership_remove", args=[grappe.pk, partners.pk])
    before = db_state()
    assert client.get(url).status_code == 302
    assert client.post(url).status_code == 302
    assert_unchanged(before)


# --- #14.6: deleting a wrong attachment ----------------------------------------------------------


def _upload(client, application, kind="convention", name="convention.pdf"):
    response = client.post(
        reverse("dossiers:upload", args=[application.pk]),
        {"kind": kind, "file": SimpleUploadedFile(name, PDF)},
    )
    assert response.status_code == 302
    return Attachment.objects.filter(application=application).latest("pk")


def test_a_wrong_attachment_is_deleted_after_confirmation(
    client, private_storage, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(grappe=grappe_with_structures(2))
    client.force_login(_porteur_member(application))
    attachment = _upload(client, application)
    stored = attachment.file.name
    assert default_storage.exists(stored)
    url = reverse("dossiers:attachment_delete", args=[application.pk, attachment.pk])
    assert f'href="{url}"' in _page(client.get(reverse("dossiers:detail", args=[application.pk])))
    before = db_state()
    assert "Supprimer la pièce « convention.pdf »" in _page(client.get(url))
    assert_unchanged(before)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert not default_storage.exists(stored)


def test_who_may_not_delete_an_attachment_changes_nothing(client, private_storage):
    application = ApplicationFactory(grappe=grappe_with_structures(2))
    porteur = _porteur_member(application)
    client.force_login(porteur)
    attachment = _upload(client, application)
    url = reverse("dossiers:attachment_delete", args=[application.pk, attachment.pk])
    # A partner of the grappe who did not bring the document.
    partner = OrganisationFactory()
    GrappeMembershipFactory(
        grappe=application.grappe, structure=StructureFactory(organisation=partner)
    )
    application.grappe.organisations.create(organisation=partner, confirmed_at=timezone.now())
    partner_user = UserFactory()
    confirmed_member(partner_user, partner)
    outsider = UserFactory()
    confirmed_member(outsider, OrganisationFactory())
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    clients = []
    for user, status in ((partner_user, 302), (outsider, 404), (instructeur, 403)):
        other = Client()
        other.force_login(user)  # logging in writes last_login: before the snapshot
        clients.append((other, status))
    before = db_state()
    for other, status in clients:
        assert other.get(url).status_code == status
        assert other.post(url).status_code == status
    assert_unchanged(before)
    assert default_storage.exists(attachment.file.name)


def test_attachments_of_a_submitted_dossier_cannot_be_deleted(client, private_storage):
    application, porteur = submitted_dossier()
    attachment = Attachment.objects.filter(application=application).first()
    url = reverse("dossiers:attachment_delete", args=[application.pk, attachment.pk])
    client.force_login(porteur)
    detail = _page(client.get(reverse("dossiers:detail", args=[application.pk])))
    assert url not in detail
    before = db_state()
    assert client.get(url).status_code == 302
    assert client.post(url).status_code == 302
    assert_unchanged(before)
