"""The grappes' e-mails: rendered from templates/emails/, links absolute (PORTAL_BASE_URL)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from post_office.models import Email

from essms_portal.emails import email_render
from essms_portal.links import portal_reverse, portal_url
from grappes.services import grappe_invite, grappe_join_decide, grappe_join_request
from tests.factories import GrappeFactory, OrganisationFactory, UserFactory, confirmed_member

pytestmark = pytest.mark.django_db


def test_portal_links_are_absolute(settings):
    settings.PORTAL_BASE_URL = "https://esms.example.gouv.fr/"
    assert portal_url("/espace/") == "https://esms.example.gouv.fr/espace/"
    assert portal_reverse("organisations:invitation", args=["abc"]) == (
        "https://esms.example.gouv.fr" + reverse("organisations:invitation", args=["abc"])
    )


def test_the_invitation_carries_an_absolute_link(settings):
    settings.PORTAL_BASE_URL = "https://esms.example.gouv.fr"
    grappe = GrappeFactory(name="Grappe & Cie")
    porteur = UserFactory()
    confirmed_member(porteur, grappe.porteur)
    invitation = grappe_invite(grappe=grappe, email="invite@org.fr", by=porteur)
    email = Email.objects.get(to=["invite@org.fr"])
    link = "https://esms.example.gouv.fr" + reverse(
        "organisations:invitation", args=[invitation.token]
    )
    assert email.subject == "Invitation à rejoindre la grappe « Grappe & Cie »"
    assert f"Lien valable 14 jours : {link}" in email.message
    assert "&amp;" not in email.message  # plain text: never HTML-escaped


def test_join_request_and_its_decision_are_templated():
    grappe = GrappeFactory(name="G1")
    porteur = UserFactory(email="porteur@org.fr")
    confirmed_member(porteur, grappe.porteur)
    requester = UserFactory(email="isole@org.fr")
    organisation = OrganisationFactory(name="Isolé")
    confirmed_member(requester, organisation)
    join = grappe_join_request(
        grappe=grappe, organisation=organisation, by=requester, message="Merci !"
    )
    request_mail = Email.objects.get(to=["porteur@org.fr"])
    assert request_mail.subject == "Demande d'adhésion à la grappe « G1 »"
    assert request_mail.message.startswith("Isolé demande à rejoindre la grappe « G1 ».\nMerci !")
    grappe_join_decide(join=join, by=porteur, accept=False)
    decision_mail = Email.objects.get(to=["isole@org.fr"])
    assert decision_mail.subject == "Demande d'adhésion à « G1 » : refusée"
    assert "a été refusée." in decision_mail.message


def test_subjects_are_one_line():
    subject, _ = email_render(
        "grappe_join_decision", {"grappe": {"name": "Ligne\nsuivante"}, "accepted": True}
    )
    assert subject == "Demande d'adhésion à « Ligne suivante » : acceptée"
