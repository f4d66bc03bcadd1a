"""Applicant pages for organisations and grappes: bad input gets a clear message."""

from __future__ import annotations

import datetime
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from essms_portal.identifiers import finess_with_key
from grappes.models import (
    FinessCategory,
    GrappeInvitation,
    GrappeMembership,
    GrappeOrganisation,
    OrganisationMember,
    Structure,
)
from grappes.services import grappe_invite
from tests.factories import (
    GrappeFactory,
    OrganisationFactory,
    StructureFactory,
    UserFactory,
    confirmed_member,
    verified_email,
)

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return html.unescape(response.content.decode())


def test_join_with_a_wrong_finess_key_is_a_field_error(client):
    client.force_login(UserFactory())
    response = client.post(reverse("organisations:join"), {"finess": "010000017"})
    assert response.status_code == 200
    assert "La clé de contrôle du numéro FINESS est incorrecte" in _page(response)
    assert 'id="id_finess_error"' in response.content.decode()
    assert not OrganisationMember.objects.exists()


def test_join_then_confirmation_by_a_member(client, mailoutbox, django_capture_on_commit_callbacks):
    organisation = OrganisationFactory()
    colleague = UserFactory(email="colleague@org.fr")
    confirmed_member(colleague, organisation)
    newcomer = UserFactory(email="new@org.fr")
    client.force_login(newcomer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("organisations:join"), {"finess": organisation.finess})
    member = OrganisationMember.objects.get(user=newcomer)
    assert member.status == "pending"
    assert mailoutbox[-1].to == ["colleague@org.fr"]
    client.force_login(colleague)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("organisations:member_confirm", args=[organisation.pk, member.pk]))
    member.refresh_from_db()
    assert member.status == "confirmed"
    assert mailoutbox[-1].to == ["new@org.fr"]


def test_adding_an_ineligible_structure_is_refused(client):
    user = UserFactory()
    organisation = OrganisationFactory()
    confirmed_member(user, organisation)
    hospital = StructureFactory(
        organisation=organisation, category=FinessCategory.objects.get(code="355")
    )
    client.force_login(user)
    response = client.post(
        reverse("organisations:detail", args=[organisation.pk]), {"finess": hospital.finess}
    )
    assert "ne relève pas de l'article L312-1" in _page(response)


def test_a_structure_absent_from_the_referential_is_entered_by_hand_and_flagged(client):
    user = UserFactory()
    organisation = OrganisationFactory()
    confirmed_member(user, organisation)
    client.force_login(user)
    finess = finess_with_key("75999999")
    response = client.post(
        reverse("organisations:detail", args=[organisation.pk]), {"finess": finess}
    )
    assert "absent du référentiel FINESS" in _page(response)
    assert not Structure.objects.filter(finess=finess).exists()
    client.post(
        reverse("organisations:detail", args=[organisation.pk]),
        {"finess": finess, "name": "EHPAD Les Lilas", "category": "500", "departement": "75"},
    )
    assert Structure.objects.get(finess=finess).source == "manual"


def test_expired_invitation_changes_nothing(client):
    grappe = GrappeFactory()
    porteur = UserFactory()
    confirmed_member(porteur, grappe.porteur)
    invitation = grappe_invite(grappe=grappe, email="invite@org.fr", by=porteur)
    GrappeInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - datetime.timedelta(days=1)
    )
    guest = UserFactory(email="invite@org.fr")
    other = OrganisationFactory()
    confirmed_member(guest, other)
    client.force_login(guest)
    page = client.get(reverse("organisations:invitation", args=[invitation.token]))
    assert "Cette invitation a expiré" in _page(page)
    response = client.post(
        reverse("organisations:invitation", args=[invitation.token]), {"organisation": other.pk}
    )
    assert "a expiré" in _page(response)
    assert not GrappeOrganisation.objects.filter(organisation=other).exists()


def test_invitation_accepted_then_member_adds_an_essms_at_60_percent(client):
    grappe = GrappeFactory()
    porteur = UserFactory()
    confirmed_member(porteur, grappe.porteur)
    invitation = grappe_invite(grappe=grappe, email="invite@org.fr", by=porteur)
    guest = UserFactory(email="invite@org.fr")
    verified_email(guest)
    other = OrganisationFactory()
    confirmed_member(guest, other)
    home_care = StructureFactory(
        organisation=other, category=FinessCategory.objects.get(code="354")
    )
    client.force_login(guest)
    client.post(
        reverse("organisations:invitation", args=[invitation.token]), {"organisation": other.pk}
    )
    response = client.post(
        reverse("organisations:grappe", args=[grappe.pk]),
        {
            "form": "membership",
            "structure": home_care.pk,
            "project_type": "acquisition",
            "eligible_share": "60",
        },
    )
    assert response.status_code == 302
    assert str(GrappeMembership.objects.get(structure=home_care).eligible_share) == "0.6000"
    client.post(reverse("organisations:grappe", args=[grappe.pk]), {"form": "confirm"})
    assert GrappeOrganisation.objects.get(organisation=other).confirmed_at is not None


def test_an_isolated_gestionnaire_asks_to_join_a_draft_grappe(client):
    grappe = GrappeFactory(name="Grappe ouverte")
    porteur = UserFactory()
    confirmed_member(porteur, grappe.porteur)
    isolated = UserFactory()
    organisation = OrganisationFactory(name="Petit gestionnaire isolé")
    confirmed_member(isolated, organisation)
    client.force_login(isolated)
    assert "Grappe ouverte" in _page(client.get(reverse("organisations:grappe_join")))
    client.post(
        reverse("organisations:grappe_join"), {"grappe": grappe.pk, "organisation": organisation.pk}
    )
    response = client.post(
        reverse("organisations:grappe_join"),
        {"grappe": grappe.pk, "organisation": organisation.pk},
        follow=True,
    )
    assert "déjà en attente" in _page(response)
    join = grappe.join_requests.get()
    client.force_login(porteur)
    page = _page(client.get(reverse("organisations:grappe", args=[grappe.pk])))
    assert "Petit gestionnaire isolé" in page
    client.post(
        reverse("organisations:join_decide", args=[grappe.pk, join.pk]), {"decision": "accept"}
    )
    assert GrappeOrganisation.objects.filter(grappe=grappe, organisation=organisation).exists()
