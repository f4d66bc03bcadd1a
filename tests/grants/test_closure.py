"""Closing a grant (issue #15): once its second tranche is settled and every order paid or
recovered, the region's agents close it (« Solder le dossier »); it shows as « Soldé » to the
porteur and leaves the follow-up queue. Each refusal is an attack that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from essms_portal.accounts.models import Role
from grants.models import Convention, FollowUpParameters, GrantLog, PaymentOrder
from grants.permissions import can_close_grant, grant_close_blocker
from grants.services import (
    GrantError,
    GrantNotAllowed,
    convention_countersign,
    convention_sign,
    grant_close,
    grant_log_broken_entry,
    payment_batch_create,
    payment_order_mark_paid,
)
from grants.settlement import second_tranche_settle
from tests.dbstate import assert_unchanged, db_state
from tests.factories import UserFactory
from tests.grants.test_conventions import Grant, pdf
from tests.grants.test_second_tranche import measure

pytestmark = pytest.mark.django_db


@pytest.fixture
def countersigned(private_storage: Any) -> tuple[Grant, Convention]:
    grant = Grant()
    convention = grant.signed()
    convention_countersign(convention=convention, by=grant.valideur)
    convention.refresh_from_db()
    return grant, convention


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pay_everything(grant: Grant) -> None:
    """Transmit the issued orders and mark every transmitted one paid today."""
    payment_batch_create(user=grant.valideur)
    for order in PaymentOrder.objects.filter(status=PaymentOrder.Status.EXPORTED):
        payment_order_mark_paid(order=order, by=grant.valideur, paid_on=timezone.localdate())


def test_settled_and_paid_grant_is_closed(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    measure(grant, meeting=15)
    second = second_tranche_settle(convention=convention, by=grant.valideur)
    assert second is not None and second.kind == "second"
    pay_everything(grant)
    assert grant_close_blocker(convention=convention) is None
    assert can_close_grant(grant.instructeur, convention)

    closed = grant_close(convention=convention, by=grant.instructeur)

    assert closed.status == Convention.Status.CLOSED == "closed"
    entry = GrantLog.objects.filter(application=grant.application).latest("id")
    assert entry.event == "grant_closed" and convention.number in entry.detail
    assert grant_log_broken_entry(application=grant.application) is None
    before = db_state()
    with pytest.raises(GrantError, match="déjà soldé"):
        grant_close(convention=convention, by=grant.valideur)
    # A closed convention is not signed again (the porteur cannot reopen it).
    with pytest.raises(GrantError, match="déjà signée"):
        convention_sign(convention=convention, by=grant.porteur, signed_copy=pdf())
    assert_unchanged(before)


def test_settlement_with_nothing_due_also_allows_closing(
    countersigned: tuple[Grant, Convention],
) -> None:
    grant, convention = countersigned
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        policy="all_or_nothing"
    )
    measure(grant, meeting=0)  # targets missed, nobody left: nothing to pay nor to recover
    assert "seconde tranche" in (grant_close_blocker(convention=convention) or "")
    assert second_tranche_settle(convention=convention, by=grant.valideur) is None
    # Computed once, whatever it gave: a second run is refused and changes nothing.
    before = db_state()
    with pytest.raises(GrantError, match="seconde tranche de cette convention est déjà calculée"):
        second_tranche_settle(convention=convention, by=grant.valideur)
    assert_unchanged(before)
    assert "reste" in (grant_close_blocker(convention=convention) or "")  # the first tranche
    pay_everything(grant)
    assert grant_close(convention=convention, by=grant.valideur).status == "closed"


def test_not_settled_or_unpaid_cannot_be_closed(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    before = db_state()
    with pytest.raises(GrantError, match="seconde tranche n'est pas encore calculée"):
        grant_close(convention=convention, by=grant.valideur)
    assert_unchanged(before)

    measure(grant, meeting=15)
    second = second_tranche_settle(convention=convention, by=grant.valideur)
    assert second is not None
    payment_batch_create(user=grant.valideur)
    first = PaymentOrder.objects.get(kind="first")
    payment_order_mark_paid(order=first, by=grant.valideur, paid_on=timezone.localdate())
    # The second tranche is transmitted, not paid yet.
    before = db_state()
    assert not can_close_grant(grant.valideur, convention)
    with pytest.raises(GrantError, match=second.number):
        grant_close(convention=convention, by=grant.valideur)
    assert_unchanged(before)
    assert Convention.objects.get().status == "countersigned"


def test_outsiders_cannot_close(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    measure(grant, meeting=15)
    second_tranche_settle(convention=convention, by=grant.valideur)
    pay_everything(grant)
    administrator = UserFactory(role=Role.ADMINISTRATOR)
    before = db_state()
    for outsider in (grant.other_region, grant.cnsa, grant.porteur, grant.stranger, administrator):
        assert not can_close_grant(outsider, convention)
        with pytest.raises(GrantNotAllowed):
            grant_close(convention=convention, by=outsider)
    assert_unchanged(before)
    url = reverse("grants:grant_close", args=[grant.application.pk])
    clients = [client_for(user) for user in (grant.other_region, grant.porteur, administrator)]
    before = db_state()  # after the logins (they stamp last_login)
    assert [client.post(url).status_code for client in clients] == [404, 403, 403]
    assert_unchanged(before)


def test_closing_over_http(countersigned: tuple[Grant, Convention]) -> None:
    grant, convention = countersigned
    pk = grant.application.pk
    agent = client_for(grant.valideur)
    page = agent.get(reverse("grants:grant", args=[pk])).content.decode()
    assert "Solder le dossier" not in page and "pourra être soldé" in page

    measure(grant, meeting=15)
    second_tranche_settle(convention=convention, by=grant.valideur)
    pay_everything(grant)
    page = agent.get(reverse("grants:grant", args=[pk])).content.decode()
    assert "Solder le dossier" in page
    # Administrators read the page, without the button.
    administrator = client_for(UserFactory(role=Role.ADMINISTRATOR))
    read_only = administrator.get(reverse("grants:grant", args=[pk])).content.decode()
    assert "Solder le dossier" not in read_only

    response = agent.post(reverse("grants:grant_close", args=[pk]))
    assert response.status_code == 302
    assert Convention.objects.get().status == "closed"

    # Out of the queue's list to act on, listed with the closed ones.
    queue = agent.get(reverse("grants:queue")).content.decode()
    assert f"n° {pk} —" not in queue and "Dossiers soldés (1)" in queue
    closed = agent.get(reverse("grants:queue") + "?etat=soldes").content.decode()
    assert f"n° {pk} —" in closed
    # The porteur sees it closed; no signature form any more.
    espace = client_for(grant.porteur).get(reverse("grants:espace_grant", args=[pk]))
    body = espace.content.decode()
    assert "Soldé" in body and "Déposer la convention signée" not in body


def test_a_closed_grant_takes_no_bank_details(countersigned: tuple[Grant, Convention]) -> None:
    """Nothing is paid once the grant is closed: the porteur's form is gone and the service
    refuses a change (nothing stored)."""
    grant, convention = countersigned
    measure(grant, meeting=15)
    second_tranche_settle(convention=convention, by=grant.valideur)
    pay_everything(grant)
    grant_close(convention=convention, by=grant.valideur)
    porteur = client_for(grant.porteur)
    page = porteur.get(reverse("grants:espace_grant", args=[grant.application.pk])).content
    assert "Enregistrer les coordonnées bancaires" not in page.decode()
    assert "Télécharger la convention (PDF)" in page.decode()
    before = db_state()
    with pytest.raises(GrantError):
        grant.bank(iban="DE89370400440532013000")
    assert_unchanged(before)


def test_the_follow_up_is_reached_from_the_menu_and_the_dossier(
    countersigned: tuple[Grant, Convention],
) -> None:
    """The back office's menu links the follow-up queue; the porteur's dossier page, once the
    grant is decided, links its follow-up — no URL to know by heart."""
    grant, _convention = countersigned
    queue = reverse("grants:queue")
    page = client_for(grant.valideur).get(reverse("applications:queue")).content.decode()
    assert f'href="{queue}"' in page and "Suivi des financements" in page
    follow_up = reverse("grants:espace_grant", args=[grant.application.pk])
    dossier = client_for(grant.porteur).get(reverse("dossiers:detail", args=[grant.application.pk]))
    assert f'href="{follow_up}"' in dossier.content.decode()
    applicant_menu = client_for(grant.porteur).get(follow_up).content.decode()
    assert "Suivi des financements" not in applicant_menu  # agents' menu only
