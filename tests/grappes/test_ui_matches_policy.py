"""Issue #9, hole 8: the pages offer exactly what the policy allows.

Found: a partner member saw "Retirer" on the porteur's ESSMS (→ 404) and "Retirer le dossier"
(→ "non habilité"). Buttons now come from the predicates that the services enforce: every
button shown works, and every button hidden would be refused.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from applications.models import Application
from grappes.models import GrappeMembership
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


@pytest.fixture
def grappe_of_two(client):
    """A draft dossier led by a porteur, with a partner organisation holding one ESSMS."""
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    grappe = application.grappe
    porteur = UserFactory()
    confirmed_member(porteur, grappe.porteur)
    partner_org = OrganisationFactory()
    grappe.organisations.create(organisation=partner_org)
    partner = UserFactory()
    confirmed_member(partner, partner_org)
    partner_essms = GrappeMembershipFactory(
        grappe=grappe, structure=StructureFactory(organisation=partner_org)
    )
    return application, porteur, partner, partner_essms


def _remove_url(membership: GrappeMembership) -> str:
    return reverse("organisations:membership_remove", args=[membership.grappe_id, membership.pk])


def test_a_partner_sees_remove_only_on_its_own_essms(client, grappe_of_two):
    application, _porteur, partner, partner_essms = grappe_of_two
    porteur_essms = application.grappe.memberships.exclude(pk=partner_essms.pk).first()
    client.force_login(partner)
    page = client.get(reverse("organisations:grappe", args=[application.grappe_id]))
    text = page.content.decode()
    assert _remove_url(partner_essms) in text
    assert _remove_url(porteur_essms) not in text
    assert 'value="invite"' not in text  # no invitation form for a partner
    # The hidden button would have been refused, and nothing changes.
    before = db_state()
    assert client.post(_remove_url(porteur_essms)).status_code == 302
    assert_unchanged(before)
    # The shown one works.
    client.post(_remove_url(partner_essms))
    assert not GrappeMembership.objects.filter(pk=partner_essms.pk).exists()


def test_a_partner_is_not_offered_withdrawal_nor_the_porteur_s_requests(client, grappe_of_two):
    application, porteur, partner, _essms = grappe_of_two
    withdraw = reverse("dossiers:withdraw", args=[application.pk])
    client.force_login(partner)
    text = client.get(reverse("dossiers:detail", args=[application.pk])).content.decode()
    assert withdraw not in text
    assert 'id="application-form"' not in text
    assert reverse("dossiers:upload", args=[application.pk]) in text  # share proofs
    before = db_state()
    client.post(withdraw)
    client.post(
        reverse("dossiers:detail", args=[application.pk]),
        {"version": application.version, "procurement": "1", "steering": "1"},
    )
    assert_unchanged(before)
    client.force_login(porteur)
    text = client.get(reverse("dossiers:detail", args=[application.pk])).content.decode()
    assert withdraw in text and 'id="application-form"' in text
    client.post(withdraw)
    assert Application.objects.get(pk=application.pk).status == "withdrawn"


def test_the_porteur_s_remove_button_is_hidden_on_a_partner_essms(client, grappe_of_two):
    application, porteur, _partner, partner_essms = grappe_of_two
    client.force_login(porteur)
    text = client.get(reverse("organisations:grappe", args=[application.grappe_id])).content
    assert _remove_url(partner_essms) not in text.decode()
    assert 'value="invite"' in text.decode()
    before = db_state()
    client.post(_remove_url(partner_essms))
    assert_unchanged(before)


def test_the_page_s_removable_set_is_the_service_s_predicate(grappe_of_two):
    """The grappe page asks the set-wise form of the rule; it must agree with the predicate the
    service enforces, row by row, for the porteur and the partner, before and after locking."""
    from grappes.permissions import can_remove_membership, memberships_removable_by

    application, porteur, partner, _essms = grappe_of_two
    grappe = application.grappe
    for locked in (False, True):
        if locked:
            Application.objects.filter(pk=application.pk).update(
                status="submitted", submitted_at=application.created_at
            )
        for user in (porteur, partner):
            expected = {m.pk for m in grappe.memberships.all() if can_remove_membership(user, m)}
            assert memberships_removable_by(user, grappe) == expected
            assert expected or locked
