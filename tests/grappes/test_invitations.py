"""Issue #9, hole 4: an invitation is bound to the invited address and consumed once.

Found over HTTP: gestionnaire B used a token sent to someone else, joined the grappe, then read
A's dossier and attachment; and two organisations accepting the same token in parallel both
joined.
"""

from __future__ import annotations

import html
import threading

import pytest
from django.db import close_old_connections, connection
from django.urls import reverse

from grappes.models import GrappeInvitation, GrappeJoinRequest, GrappeOrganisation
from grappes.services import ServiceError, grappe_invitation_accept, grappe_invite
from tests.conftest import ensure_referential
from tests.dbstate import assert_unchanged, db_state
from tests.factories import (
    ApplicationFactory,
    OrganisationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
    verified_email,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited():
    """A draft dossier whose porteur invited invite@org.fr, and a second gestionnaire B
    (another address) who got hold of the link."""
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    porteur = UserFactory(email="porteur@org.fr")
    confirmed_member(porteur, application.grappe.porteur)
    invitation = grappe_invite(grappe=application.grappe, email="invite@org.fr", by=porteur)
    intruder = UserFactory(email="b@ailleurs.fr")
    verified_email(intruder)
    intruder_org = OrganisationFactory(name="Organisme de B")
    confirmed_member(intruder, intruder_org)
    return application, porteur, invitation, intruder, intruder_org


def test_a_forwarded_token_does_not_let_another_address_join(client, invited):
    application, _porteur, invitation, intruder, intruder_org = invited
    client.force_login(intruder)
    page = client.get(reverse("organisations:invitation", args=[invitation.token]))
    assert "adressée à une autre adresse" in page.content.decode()
    before = db_state()
    # The service refuses the direct acceptance outright.
    with pytest.raises(ServiceError):
        grappe_invitation_accept(invitation=invitation, by=intruder, organisation=intruder_org)
    assert_unchanged(before)
    # Over HTTP, the link only files a request that the porteur must approve.
    client.post(
        reverse("organisations:invitation", args=[invitation.token]),
        {"organisation": intruder_org.pk},
    )
    assert not GrappeOrganisation.objects.filter(organisation=intruder_org).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None  # still usable by its invitee
    join = GrappeJoinRequest.objects.get(organisation=intruder_org)
    assert join.invitation == invitation and join.decided_at is None
    # And B still reads nothing of the dossier.
    assert client.get(reverse("dossiers:detail", args=[application.pk])).status_code == 404


def test_an_unverified_address_is_not_the_invitee(client, invited):
    """The address must be verified: an account created with the invited address but never
    confirmed does not join directly."""
    _application, _porteur, invitation, _intruder, _org = invited
    squatter = UserFactory(email="invite@org.fr")
    squatter_org = OrganisationFactory()
    confirmed_member(squatter, squatter_org)
    client.force_login(squatter)
    client.post(
        reverse("organisations:invitation", args=[invitation.token]),
        {"organisation": squatter_org.pk},
    )
    assert not GrappeOrganisation.objects.filter(organisation=squatter_org).exists()
    assert GrappeJoinRequest.objects.filter(organisation=squatter_org).exists()


def test_the_porteur_approves_a_forwarded_acceptance(client, invited):
    application, porteur, invitation, intruder, intruder_org = invited
    client.force_login(intruder)
    client.post(
        reverse("organisations:invitation", args=[invitation.token]),
        {"organisation": intruder_org.pk},
    )
    join = GrappeJoinRequest.objects.get(organisation=intruder_org)
    client.force_login(porteur)
    page = client.get(reverse("organisations:grappe", args=[application.grappe_id]))
    assert "invitation transférée" in page.content.decode()
    client.post(
        reverse("organisations:join_decide", args=[application.grappe_id, join.pk]),
        {"decision": "accept"},
    )
    assert GrappeOrganisation.objects.filter(
        grappe=application.grappe, organisation=intruder_org
    ).exists()


def test_the_invitee_joins_and_the_token_is_spent(client, invited):
    _application, _porteur, invitation, _intruder, _org = invited
    invitee = UserFactory(email="invite@org.fr")
    verified_email(invitee)
    invitee_org = OrganisationFactory()
    confirmed_member(invitee, invitee_org)
    second_org = OrganisationFactory()
    confirmed_member(invitee, second_org)
    client.force_login(invitee)
    url = reverse("organisations:invitation", args=[invitation.token])
    assert client.post(url, {"organisation": invitee_org.pk}).status_code == 302
    invitation.refresh_from_db()
    assert invitation.accepted_by == invitee and invitation.accepted_organisation == invitee_org
    before = db_state()
    response = client.post(url, {"organisation": second_org.pk})
    assert "déjà été utilisée" in response.content.decode()
    assert_unchanged(before)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_organisations_racing_on_one_token_let_exactly_one_in():
    """Two requests accept the same token at the same moment, each with its own organisation:
    the conditional UPDATE consumes the token once (PostgreSQL, real threads)."""
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writes need PostgreSQL (CI runs this test on PostgreSQL).")
    ensure_referential()
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    porteur = UserFactory()
    confirmed_member(porteur, application.grappe.porteur)
    invitation = grappe_invite(grappe=application.grappe, email="invite@org.fr", by=porteur)
    invitee = UserFactory(email="invite@org.fr")
    verified_email(invitee)
    organisations = [OrganisationFactory(), OrganisationFactory()]
    for organisation in organisations:
        confirmed_member(invitee, organisation)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(organisation) -> None:
        try:
            token_row = GrappeInvitation.objects.get(pk=invitation.pk)
            barrier.wait(timeout=10)
            grappe_invitation_accept(invitation=token_row, by=invitee, organisation=organisation)
            outcomes.append("joined")
        except ServiceError:
            outcomes.append("refused")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=accept, args=(o,)) for o in organisations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["joined", "refused"]
    joined = GrappeOrganisation.objects.filter(
        grappe=application.grappe, organisation__in=organisations
    )
    assert joined.count() == 1


def test_the_porteur_cannot_invite_himself_nor_a_colleague(client, invited):
    application, porteur, _invitation, _intruder, _org = invited
    colleague = UserFactory(email="collegue@org.fr")
    confirmed_member(colleague, application.grappe.porteur)
    client.force_login(porteur)
    url = reverse("organisations:grappe", args=[application.grappe_id])
    before = db_state()
    for email, message in (
        ("porteur@org.fr", "votre propre adresse"),
        ("PORTEUR@org.fr", "votre propre adresse"),
        ("collegue@org.fr", "déjà membre de l'organisme porteur"),
        ("invite@org.fr", "déjà en cours"),
    ):
        response = client.post(url, {"form": "invite", "email": email})
        assert response.status_code == 200
        assert message in html.unescape(response.content.decode()), email
    assert_unchanged(before)
