"""The follow-up demo (``make demo``: seed_demo then seed_follow_up): grants at every stage,
walkable by the README's accounts; a second run changes nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from applications.demo.simple import NOTIFIED_GRAPPE
from essms_portal.accounts.models import User
from grants.demo import AMENDED_GRAPPE, SETTLED_GRAPPE, TO_SIGN_GRAPPE
from grants.models import Amendment, Convention, Measurement, PaymentOrder
from tests.dbstate import assert_unchanged, db_state

pytestmark = pytest.mark.django_db


def test_grants_at_every_stage_and_idempotent(private_storage: Any) -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_follow_up", stdout=StringIO())
    stages = dict(Convention.objects.values_list("decision__application__grappe__name", "status"))
    assert stages == {
        NOTIFIED_GRAPPE: "countersigned",
        TO_SIGN_GRAPPE: "drafted",
        SETTLED_GRAPPE: "countersigned",
        AMENDED_GRAPPE: "countersigned",
    }
    orders = sorted(PaymentOrder.objects.values_list("application__grappe__name", "kind", "status"))
    assert orders == sorted(
        [
            (NOTIFIED_GRAPPE, "first", "paid"),
            (SETTLED_GRAPPE, "first", "paid"),
            (SETTLED_GRAPPE, "second", "paid"),
            (AMENDED_GRAPPE, "first", "paid"),
            (AMENDED_GRAPPE, "recovery", "issued"),
            (AMENDED_GRAPPE, "second", "issued"),
        ]
    )
    assert Measurement.objects.filter(status="pending").count() == 45  # 15 ESSMS x 3 targets
    second = PaymentOrder.objects.get(kind="second", status="paid")
    assert second.amount < second.convention.snapshot["tranches"][1]["amount"]  # reduced
    # The Drôme: one ESSMS left by a validated amendment, the rest of its new total reduced.
    amendment = Amendment.objects.get()
    assert amendment.status == "validated"
    assert amendment.drafted_by.email == "instructeur-ara@demo.esms.fr"
    assert amendment.validated_by.email == "valideur-ara@demo.esms.fr"  # type: ignore[union-attr]
    [leaver] = amendment.snapshot["leaving"]
    amended = amendment.convention.decision.application
    assert amended.grappe.memberships.count() == 14
    assert not amended.grappe.memberships.filter(structure__finess=leaver).exists()
    rest = amendment.snapshot["total"] - amendment.snapshot["tranches"][0]["amount"]
    assert PaymentOrder.objects.get(application=amended, kind="second").amount < rest

    before = db_state()
    call_command("seed_follow_up", stdout=StringIO())
    assert_unchanged(before)

    # The README's walk: the porteur sees the schedule, the instructeur the checks to make.
    notified = Convention.objects.get(decision__application__grappe__name=NOTIFIED_GRAPPE)
    porteur = Client()
    porteur.force_login(User.objects.get(email="porteur@demo.esms.fr"))
    page = porteur.get(reverse("grants:espace_grant", args=[notified.decision.application_id]))
    assert page.status_code == 200 and "Payé" in page.content.decode()
    instructeur = Client()
    instructeur.force_login(User.objects.get(email="instructeur@demo.esms.fr"))
    queue = instructeur.get(reverse("grants:queue")).content.decode()
    assert "Mesures à vérifier" in queue and "À rédiger" not in queue
    # The Drôme's orders wait for « Transmettre les ordres émis ».
    valideur_ara = Client()
    valideur_ara.force_login(User.objects.get(email="valideur-ara@demo.esms.fr"))
    assert (
        "Transmettre les ordres émis" in valideur_ara.get(reverse("grants:queue")).content.decode()
    )
