"""Back-office words a reviewer reads (#14.7): the decision export button agrees with its
number, a finished export promises no e-mail, the queue's "mine" filter says Tous/Oui/Non."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from applications.decisions.services import decision_export_create, decisions_exportable_by
from applications.models import DecisionExport
from essms_portal.accounts.models import Role
from tests.applications.helpers import ars, cnsa_agent, issued

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]


def test_export_button_agrees_with_the_number_of_decisions(client):
    [decision] = issued(1)
    agent = cnsa_agent()
    client.force_login(agent)
    page = html.unescape(client.get(reverse("decisions:list")).content.decode())
    assert decision.number in page
    assert "Exporter la décision (ZIP" in page
    assert "Exporter les 1 décision" not in page
    issued(1)
    page = html.unescape(client.get(reverse("decisions:list")).content.decode())
    assert "Exporter les 2 décisions (ZIP" in page


def test_a_finished_export_promises_no_email(client, django_capture_on_commit_callbacks):
    issued(1)
    agent = cnsa_agent()
    with django_capture_on_commit_callbacks(execute=True):
        job = decision_export_create(
            by=agent, decisions=decisions_exportable_by(user=agent), filters={}
        )
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.DONE
    client.force_login(agent)
    url = reverse("decisions:export_detail", kwargs={"pk": job.pk})
    page = html.unescape(client.get(url).content.decode())
    assert "Télécharger l'archive ZIP" in page
    assert "Vous recevrez un courriel" not in page
    DecisionExport.objects.filter(pk=job.pk).update(status=DecisionExport.Status.PENDING, done=0)
    page = html.unescape(client.get(url).content.decode())
    assert "Vous recevrez un courriel quand l'archive sera prête" in page


def test_queue_filter_offers_tous_oui_non(client):
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    page = html.unescape(client.get(reverse("applications:queue")).content.decode())
    assert "Inconnu" not in page
    start = page.index('name="mine"')
    select = page[start : page.index("</select>", start)]
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select) == ["Tous", "Oui", "Non"]


def test_casf_item_17_shows_a_clean_label_in_the_sector_filter(client):
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    page = html.unescape(client.get(reverse("applications:queue")).content.decode())
    assert "17° Item sans catégorie FINESS rattachée" in page
    assert "à confirmer" not in page


def test_migration_renames_the_placeholder_and_keeps_an_administrators_label():
    import importlib

    from django.apps import apps

    from grappes.models import CasfCategory

    migration = importlib.import_module("grappes.migrations.0007_casf_item_17_label")
    CasfCategory.objects.filter(code="17°").update(label=migration.PLACEHOLDER)
    migration.rename(apps, None)
    assert CasfCategory.objects.get(code="17°").label == migration.LABEL
    CasfCategory.objects.filter(code="17°").update(label="Libellé choisi")
    migration.rename(apps, None)
    assert CasfCategory.objects.get(code="17°").label == "Libellé choisi"


def test_envelope_refusal_writes_amounts_the_french_way(client):
    from decimal import Decimal

    from tests.applications.helpers import proposed_dossier
    from tests.factories import CallFactory

    application, _porteur, _instructeur = proposed_dossier(call=CallFactory(envelope=Decimal(10)))
    client.force_login(ars(Role.ARS_VALIDEUR))
    response = client.post(
        reverse("applications:act", args=[application.pk, "accept"]),
        {"version": application.version},
        follow=True,
    )
    page = html.unescape(response.content.decode())
    assert "Accepter ce dossier (375\u202f000\u00a0€) dépasserait l'enveloppe" in page
    assert "0\u00a0€ déjà accordés sur 10\u00a0€." in page
    assert re.search(r"\d{4,} €", page) is None
