"""Issue #9, hole 3: on a regional call the region's valideur decides. A CNSA agent only accepts
to override the envelope (when the acceptance would exceed it, with a written reason) and never
rejects or sends back a regional dossier. Attacks over HTTP; the database is re-read after."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.urls import reverse

from applications.permissions import can_accept, can_decide
from applications.workflow import (
    Action,
    GuardFailed,
    Status,
    TransitionNotAllowed,
    can_act,
    transition,
)
from essms_portal.accounts.models import Role
from tests.applications.helpers import ars, cnsa, dossier_state, proposed_dossier
from tests.dbstate import assert_unchanged, db_state
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


def _post(client, application, action, **data):
    application.refresh_from_db()
    return client.post(
        reverse("applications:act", args=[application.pk, action]),
        {"version": application.version, **data},
        follow=True,
    )


@pytest.mark.parametrize("reason", ["", "Priorité nationale"])
def test_cnsa_cannot_accept_a_regional_dossier_within_the_envelope(client, reason):
    application, _porteur, _instructeur = proposed_dossier()  # envelope 2 000 000 €
    before = dossier_state(application)
    client.force_login(cnsa())
    everything = db_state()
    response = _post(client, application, "accept", override_reason=reason)
    assert response.status_code == 200
    assert "la décision revient au valideur de l'ARS" in html.unescape(response.text)
    assert dossier_state(application) == before
    assert_unchanged(everything)
    assert before["status"] == Status.PROPOSED


@pytest.mark.parametrize("action", ["reject", "send_back"])
def test_cnsa_cannot_reject_or_send_back_a_regional_dossier(client, action):
    application, _porteur, _instructeur = proposed_dossier(call=CallFactory(envelope=Decimal(10)))
    before = dossier_state(application)
    agent = cnsa()
    client.force_login(agent)
    everything = db_state()
    response = _post(client, application, action, comment="Hors périmètre")
    assert response.status_code == 403
    assert dossier_state(application) == before
    assert_unchanged(everything)
    with pytest.raises(TransitionNotAllowed):
        transition(application=application, action=action, by=agent)
    assert dossier_state(application) == before


def test_cnsa_overrides_an_exceeded_envelope_only_with_a_written_reason(client):
    application, _porteur, _instructeur = proposed_dossier(
        call=CallFactory(envelope=Decimal(100_000))
    )
    before = dossier_state(application)
    client.force_login(cnsa())
    everything = db_state()
    response = _post(client, application, "accept", override_reason="   ")
    assert "dépasserait l'enveloppe" in html.unescape(response.text)
    assert dossier_state(application) == before
    assert_unchanged(everything)

    response = _post(client, application, "accept", override_reason="Comité du 3 mars")
    assert "Action effectuée : Accepter" in html.unescape(response.text)
    after = dossier_state(application)
    assert after["status"] == Status.ACCEPTED
    entry = application.log_entries.order_by("-id").first()
    assert entry.action == Action.ACCEPT
    assert "Dépassement d'enveloppe autorisé : Comité du 3 mars" in entry.comment


def test_the_regional_valideur_cannot_override_even_with_a_reason():
    application, _porteur, _instructeur = proposed_dossier(
        call=CallFactory(envelope=Decimal(100_000))
    )
    before = dossier_state(application)
    with pytest.raises(GuardFailed, match="enveloppe"):
        transition(
            application=application,
            action=Action.ACCEPT,
            by=ars(Role.ARS_VALIDEUR),
            override_reason="Urgent",
        )
    assert dossier_state(application) == before


def test_a_national_acceptance_within_the_envelope_logs_no_override():
    from tests.applications.helpers import national_submitted_dossier, score_and_propose_amounts

    application, _porteur = national_submitted_dossier()
    instructeur = cnsa()
    transition(application=application, action=Action.TAKE, by=instructeur)
    application.refresh_from_db()
    score_and_propose_amounts(application, instructeur)
    transition(application=application, action=Action.PROPOSE, by=instructeur)
    result = transition(
        application=application, action=Action.ACCEPT, by=cnsa(), override_reason="Inutile"
    )
    assert "Dépassement" not in result.entry.comment


def test_predicates_say_the_same_as_the_docs():
    application, _porteur, _instructeur = proposed_dossier()
    agent, valideur = cnsa(), ars(Role.ARS_VALIDEUR)
    assert not can_decide(agent, application)
    assert can_accept(agent, application)  # offered only for an envelope override…
    assert not can_act(agent, application, Action.ACCEPT)  # …which does not apply here
    assert not can_act(agent, application, Action.REJECT)
    assert can_decide(valideur, application)
    assert can_act(valideur, application, Action.ACCEPT)
    assert not can_decide(ars(Role.ARS_VALIDEUR, region="84"), application)


def test_the_review_page_offers_cnsa_no_decision_within_the_envelope(client):
    application, _porteur, _instructeur = proposed_dossier()
    client.force_login(cnsa())
    page = client.get(reverse("applications:review", args=[application.pk])).text
    for action in ("accept", "reject", "send_back"):
        assert reverse("applications:act", args=[application.pk, action]) not in page
    assert 'name="override_reason"' not in page


def test_the_review_page_offers_cnsa_the_override_when_the_envelope_is_exceeded(client):
    tight, _porteur, _instructeur = proposed_dossier(call=CallFactory(envelope=Decimal(100_000)))
    client.force_login(cnsa())
    page = client.get(reverse("applications:review", args=[tight.pk])).text
    assert reverse("applications:act", args=[tight.pk, "accept"]) in page
    assert reverse("applications:act", args=[tight.pk, "reject"]) not in page
    assert 'name="override_reason"' in page

    client.force_login(ars(Role.ARS_VALIDEUR))
    page = client.get(reverse("applications:review", args=[tight.pk])).text
    assert reverse("applications:act", args=[tight.pk, "reject"]) in page
    assert 'name="override_reason"' not in page
