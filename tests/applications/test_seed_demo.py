"""The demo dataset: what `make demo` loads."""

import pytest
from django.core.management import call_command

from applications.models import Application, Call
from essms_portal.accounts.models import Role, User
from funding.services import quote_for
from grappes.models import Grappe, Organisation

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_the_promised_dataset_once(capsys):
    call_command("seed_demo")
    assert "demo-esms-2023!" in capsys.readouterr().out
    assert Call.objects.filter(scope="regional").count() == 18
    assert Call.objects.filter(scope="national").count() == 1
    assert Organisation.objects.count() == 3
    grappe = Grappe.objects.get()
    assert grappe.memberships.count() == 16
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)

    call_command("seed_demo")
    assert "déjà chargé" in capsys.readouterr().out
    assert Grappe.objects.count() == 1


def test_demo_application_has_an_eligible_quote():
    call_command("seed_demo")
    quote = quote_for(Application.objects.get())
    assert quote.eligible, quote.errors
    assert quote.essms_count == 16
    assert quote.total == sum(line.amount for line in quote.structures) + 15_000 + 80_000
