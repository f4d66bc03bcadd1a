"""Second tranche (issue #15 §6): the portal's data mapped to the pure settlement, and the order
it issues — full, pro rata, or a recovery when an ESSMS left and targets are missed."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grants.models import FollowUpParameters, Measurement, PaymentOrder, UsageIndicator
from grants.selectors import grant_schedule
from grants.services import GrantError, convention_countersign, convention_draft
from grants.settlement import second_tranche_settle, settlement_preview
from tests.dbstate import assert_unchanged, db_state
from tests.grants.test_conventions import Grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def countersigned(private_storage: Any) -> tuple[Grant, Any]:
    grant = Grant()
    convention = grant.signed()
    convention_countersign(convention=convention, by=grant.valideur)
    convention.refresh_from_db()
    return grant, convention


def measure(grant: Grant, *, meeting: int) -> None:
    """Validated measurements: the first ``meeting`` ESSMS reach every target, the others
    reach none."""
    memberships = list(grant.application.grappe.memberships.order_by("id"))
    indicators = UsageIndicator.objects.filter(campaign=grant.application.call.campaign)
    for index, membership in enumerate(memberships):
        for indicator in indicators:
            value = indicator.threshold if index < meeting else indicator.threshold - 1
            Measurement.objects.create(
                structure=membership.structure,
                indicator=indicator,
                value=max(value, Decimal(0)),
                measured_on=datetime.date(2024, 6, 30),
                source=Measurement.Source.IMPORTED,
                status=Measurement.Status.VALIDATED,
            )


def test_targets_met_pay_the_rest(countersigned: tuple[Grant, Any]) -> None:
    grant, convention = countersigned
    measure(grant, meeting=15)
    total = int(convention.snapshot["total"])
    order = second_tranche_settle(convention=convention, by=grant.valideur)
    assert order is not None
    assert (order.kind, order.number) == ("second", "OP-2023-11-0002")
    assert int(order.amount) == total - total // 2
    assert order.reasons and "cibles" in order.reasons[0]
    # Nothing is ever ordered twice.
    before = db_state()
    with pytest.raises(GrantError, match="déjà calculée"):
        second_tranche_settle(convention=convention, by=grant.valideur)
    assert_unchanged(before)


def test_pro_rata_of_the_essms_meeting_their_targets(countersigned: tuple[Grant, Any]) -> None:
    grant, convention = countersigned
    measure(grant, meeting=10)
    total = int(convention.snapshot["total"])
    preview = settlement_preview(convention=convention)
    assert (preview.funded_count, preview.met_count, preview.targets_met) == (15, 10, False)
    order = second_tranche_settle(convention=convention, by=grant.valideur)
    assert order is not None and order.kind == "second"
    assert int(order.amount) == (total - total // 2) * 10 // 15
    missed = [r for r in order.reasons if "non atteint" in r or "pas atteint" in r]
    assert missed, order.reasons


def test_departed_essms_and_nothing_met_gives_a_recovery(
    countersigned: tuple[Grant, Any],
) -> None:
    grant, convention = countersigned
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        policy="all_or_nothing"
    )
    measure(grant, meeting=0)
    departed = grant.application.grappe.memberships.order_by("id").first()
    line = next(
        line for line in convention.snapshot["lines"] if line["finess"] == departed.structure.finess
    )
    departed.delete()
    total = int(convention.snapshot["total"])
    order = second_tranche_settle(convention=convention, by=grant.valideur)
    assert order is not None
    assert (order.kind, order.number) == ("recovery", "TR-2023-11-0001")
    due_first = (total - int(line["amount"])) * 50 // 100
    assert int(order.amount) == total // 2 - due_first
    assert PaymentOrder.objects.filter(kind="second").count() == 0


def test_refused_before_the_deadline(countersigned: tuple[Grant, Any]) -> None:
    grant, convention = countersigned
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        measurement_deadline=timezone.localdate() + datetime.timedelta(days=30)
    )
    before = db_state()
    with pytest.raises(GrantError, match="échéance"):
        second_tranche_settle(convention=convention, by=grant.valideur)
    with pytest.raises(GrantError):
        second_tranche_settle(convention=convention, by=grant.other_region)
    assert_unchanged(before)


def test_refused_while_a_measurement_waits_for_the_ars(countersigned: tuple[Grant, Any]) -> None:
    """A value still « à vérifier » could raise the tranche once validated: the second tranche
    (computed once) waits for every check; the grant page and the confirmation page say why."""
    grant, convention = countersigned
    measure(grant, meeting=15)
    waiting = Measurement.objects.filter(structure__memberships__grappe=grant.application.grappe)
    waiting.filter(pk__in=waiting.values("pk")[:2]).update(status=Measurement.Status.PENDING)
    client = Client()
    client.force_login(grant.valideur)
    before = db_state()
    with pytest.raises(GrantError, match="2 mesures de ces ESSMS sont encore à vérifier"):
        second_tranche_settle(convention=convention, by=grant.valideur)
    assert_unchanged(before)

    page = client.get(reverse("grants:grant", args=[grant.application.pk])).content.decode()
    assert "encore à vérifier" in page
    assert reverse("grants:settle_confirm", args=[grant.application.pk]) not in page
    refused = client.get(reverse("grants:settle_confirm", args=[grant.application.pk]))
    assert refused.status_code == 302
    assert_unchanged(before)

    Measurement.objects.filter(status=Measurement.Status.PENDING).update(
        status=Measurement.Status.VALIDATED
    )
    confirm = client.get(reverse("grants:settle_confirm", args=[grant.application.pk]))
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Le calcul est définitif" in text and "15 sur 15" in text
    assert PaymentOrder.objects.filter(kind=PaymentOrder.Kind.SECOND).count() == 0  # GET only
    done = client.post(reverse("grants:settle", args=[grant.application.pk]))
    assert done.status_code == 302
    second = PaymentOrder.objects.get(kind=PaymentOrder.Kind.SECOND)
    # Computed: nothing left to order, and no second calculation offered.
    schedule = grant_schedule(application=grant.application)
    assert schedule.settled and schedule.remaining == 0
    page = client.get(reverse("grants:grant", args=[grant.application.pk])).content.decode()
    assert "si elle était calculée aujourd" not in page
    assert reverse("grants:settle_confirm", args=[grant.application.pk]) not in page
    assert second.amount > 0


def test_the_porteur_sees_what_is_missing_and_by_when(countersigned: tuple[Grant, Any]) -> None:
    """The porteur's follow-up page lists what is still to do with its deadline: the ESSMS whose
    targets have no validated measurement (the settlement's rules: the reminders' list), then
    nothing once every measurement is validated."""
    grant, _convention = countersigned
    deadline = datetime.date(2024, 12, 31)
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        measurement_deadline=deadline
    )
    porteur = Client()
    porteur.force_login(grant.porteur)
    url = reverse("grants:espace_grant", args=[grant.application.pk])
    page = porteur.get(url).content.decode()
    todo = page[page.index('id="a-faire"') : page.index("Coordonnées bancaires")]
    assert "Fournir les mesures d'usage de 15 ESSMS" in todo and "avant le 31/12/2024" in todo
    first = grant.application.grappe.memberships.order_by("id").first()
    assert first is not None and f"({first.structure.finess})" in todo
    measure(grant, meeting=15)
    page = porteur.get(url).content.decode()
    todo = page[page.index('id="a-faire"') : page.index("Coordonnées bancaires")]
    assert "Rien à faire pour l'instant." in todo and "Fournir les mesures" not in todo


def test_the_porteur_sees_the_convention_to_sign_by_its_deadline(private_storage: Any) -> None:
    grant = Grant()
    convention_draft(decision=grant.decision, by=grant.instructeur)
    FollowUpParameters.objects.filter(campaign=grant.application.call.campaign).update(
        convention_deadline=datetime.date(2025, 3, 31)
    )
    porteur = Client()
    porteur.force_login(grant.porteur)
    page = porteur.get(reverse("grants:espace_grant", args=[grant.application.pk])).content
    text = page.decode()
    assert "Déposer la convention signée <strong>avant le 31/03/2025</strong>" in text
    assert "Saisir les coordonnées bancaires" in text
