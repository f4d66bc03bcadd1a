"""The instruction back office through HTTP: queue, review page, forms, actions."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.instruction.services import call_default_grid
from applications.models import Application, ComplementRequest, ProposedAmount
from applications.workflow import Action, Status, transition
from essms_portal.accounts.models import Role
from grappes.models import Region
from tests.applications.helpers import ars, proposed_dossier, submitted_dossier
from tests.factories import ApplicationFactory, CallFactory, GrappeFactory

pytestmark = pytest.mark.django_db


def _make_submitted(count: int) -> None:
    """``count`` submitted dossiers on the Île-de-France call, cheaply."""
    call = CallFactory()
    now = timezone.now()
    for _ in range(count):
        ApplicationFactory(grappe=GrappeFactory(), call=call)
    Application.objects.update(status=Status.SUBMITTED, submitted_at=now)


def _queue_queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("applications:queue"), {"ordering": "-submitted_at"})
    assert response.status_code == 200
    return len(queries)


def test_queue_query_count_does_not_grow_with_the_number_of_dossiers(client):
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    _make_submitted(10)
    with_10 = _queue_queries(client, instructeur)
    _make_submitted(190)
    assert Application.objects.count() == 200
    with_200 = _queue_queries(client, instructeur)
    assert with_10 == with_200


def test_queue_is_scoped_filtered_and_counted(client):
    application, _porteur = submitted_dossier()
    other_region = ApplicationFactory(
        grappe=GrappeFactory(name="Grappe lyonnaise"),
        call=CallFactory(region=Region.objects.get(code="84")),
    )
    Application.objects.filter(pk=other_region.pk).update(
        status=Status.SUBMITTED, submitted_at=timezone.now()
    )
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    client.force_login(instructeur)
    page = client.get(reverse("applications:queue")).content.decode()
    assert application.grappe.name in page
    assert other_region.grappe.name not in page
    assert "Déposé : 1" in page

    page = client.get(reverse("applications:queue"), {"status": "in_review"}).content.decode()
    assert "Aucun dossier ne correspond" in page
    page = client.get(reverse("applications:queue"), {"sector": "6°"}).content.decode()
    assert application.grappe.name in page
    page = client.get(reverse("applications:queue"), {"sector": "8°"}).content.decode()
    assert application.grappe.name not in page
    page = client.get(reverse("applications:queue"), {"q": application.grappe.porteur.finess})
    assert application.grappe.name in page.content.decode()
    application.assignee = instructeur
    application.save()
    page = client.get(reverse("applications:queue"), {"mine": "true"}).content.decode()
    assert application.grappe.name in page


def test_review_page_shows_eligibility_report_and_hides_nothing_needed(client):
    application, _porteur = submitted_dossier()
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    page = client.get(reverse("applications:review", args=[application.pk])).content.decode()
    assert "Rapport d'éligibilité" in page
    assert "Catégorie éligible (CASF L312-1)" in page
    first = application.grappe.memberships.first().structure.finess
    assert first in page


def test_applicants_never_reach_the_back_office(client):
    application, porteur = submitted_dossier()
    client.force_login(porteur)
    assert client.get(reverse("applications:queue")).status_code == 403
    assert client.get(reverse("applications:review", args=[application.pk])).status_code == 403


def test_proposal_above_the_computed_amount_is_a_field_error(client):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    client.force_login(instructeur)
    response = client.post(
        reverse("applications:save_proposal", args=[application.pk]),
        {
            "version": application.version,
            "recommendation": "accept",
            "motivation": "Bien",
            **{f"amount_{i}": 25_000 for i in range(15)},
            "amount_0": 30_000,
            "amount_15": 0,
            "amount_16": 0,
            "amount_1": 20_000,
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "ne peut pas dépasser le montant calculé (25\u202f000\u00a0€)" in page
    assert "Indiquez le motif de cette réduction" in page
    assert not ProposedAmount.objects.exists()


def test_complement_request_from_the_review_page(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    client.force_login(instructeur)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("applications:ask_complement", args=[application.pk]),
            {
                "version": application.version,
                "message": "Merci de joindre la convention.",
                "expected_items": "Convention signée\nDevis",
                "deadline": "2099-01-31",
            },
        )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Status.COMPLEMENT_REQUESTED
    request = ComplementRequest.objects.get()
    assert request.expected_list == ["Convention signée", "Devis"]
    assert any("Compléments demandés" in m.subject for m in mailoutbox)


def test_stale_version_gives_a_clear_message_and_changes_nothing(client):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    client.force_login(instructeur)
    stale = application.version
    transition(application=application, action=Action.TAKE, by=ars(Role.ARS_INSTRUCTEUR))
    response = client.post(
        reverse("applications:act", args=[application.pk, "take"]), {"version": stale}, follow=True
    )
    assert "vient d'être modifié par une autre personne" in html.unescape(response.content.decode())
    assert Application.objects.get().status == Status.IN_REVIEW


def test_accept_beyond_envelope_is_refused_on_the_page(client):
    application, _porteur, _instructeur = proposed_dossier(call=CallFactory(envelope=Decimal(10)))
    client.force_login(ars(Role.ARS_VALIDEUR))
    response = client.post(
        reverse("applications:act", args=[application.pk, "accept"]),
        {"version": application.version},
        follow=True,
    )
    assert "dépasserait l'enveloppe" in html.unescape(response.content.decode())
    assert Application.objects.get().status == Status.PROPOSED


def test_review_and_ranking(client):
    application, _porteur, _instructeur = proposed_dossier()
    client.force_login(ars(Role.ARS_VALIDEUR))
    page = client.get(reverse("applications:ranking", args=[application.call.pk]))
    assert page.status_code == 200
    assert "100,00" in page.content.decode()  # French decimal comma


def test_scoring_through_the_page(client):
    application, _porteur = submitted_dossier()
    criteria = call_default_grid(call=application.call)
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(
        application=application, action=Action.TAKE, by=instructeur
    )  # scores only in instruction
    client.force_login(instructeur)
    marks = {f"criterion_{c.pk}": 4 for c in criteria}
    response = client.post(
        reverse("applications:save_review", args=[application.pk]),
        {**marks, "comment": "Bon dossier"},
    )
    assert response.status_code == 302
    assert str(application.reviews.get().score) == "80.00"
