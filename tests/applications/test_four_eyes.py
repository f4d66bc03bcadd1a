"""Issue #9, hole 2: four eyes, read from the log. Whoever took any instruction act on a dossier
since its submission (take, score, proposal edit, propose, send back, complement request) never
accepts, rejects or sends it back. Each attack is performed over HTTP, as it was found, and the
database is re-read to prove that nothing changed."""

from __future__ import annotations

import datetime
import html

import pytest
from django.urls import reverse

from applications.dossiers.services import complement_answer
from applications.instruction.services import complement_request
from applications.workflow import (
    Action,
    GuardFailed,
    Status,
    can_act,
    instructed_since_submission,
    transition,
)
from essms_portal.accounts.models import Role
from tests.applications.helpers import (
    ars,
    cnsa,
    dossier_state,
    national_submitted_dossier,
    proposal_post,
    proposed_dossier,
    review_post,
    score_and_propose_amounts,
)
from tests.dbstate import assert_unchanged, db_state

pytestmark = pytest.mark.django_db


def _act(client, application, action, **data):
    """Click a decision button of the review page; the page the user lands on."""
    application.refresh_from_db()
    response = client.post(
        reverse("applications:act", args=[application.pk, action]),
        {"version": application.version, **data},
        follow=True,
    )
    return response.status_code, html.unescape(response.content.decode())


def _instruct_over_http(client, application, agent):
    """Agent takes the dossier, scores it, enters amounts and motivation, all through the page."""
    client.force_login(agent)
    _status, page = _act(client, application, "take")
    assert "Action effectuée : Prendre en instruction" in page
    response = client.post(
        reverse("applications:save_review", args=[application.pk]), review_post(application, 4)
    )
    assert response.status_code == 302
    response = client.post(
        reverse("applications:save_proposal", args=[application.pk]), proposal_post(application)
    )
    assert response.status_code == 302


def test_attack_a_the_instructeur_accepts_after_a_colleague_only_clicked_propose(client):
    application, _porteur = national_submitted_dossier()
    agent_1, agent_2, agent_3 = cnsa(), cnsa(), cnsa()
    _instruct_over_http(client, application, agent_1)
    client.force_login(agent_2)
    _status, page = _act(client, application, "propose")
    assert "Action effectuée : Proposer une décision" in page
    before = dossier_state(application)
    assert before["status"] == Status.PROPOSED

    client.force_login(agent_1)
    everything = db_state()
    for action in ("accept", "reject", "send_back"):
        status, page = _act(client, application, action)
        assert status == 200
        assert "un autre agent doit décider" in page
        assert dossier_state(application) == before
    assert_unchanged(everything)

    # An agent who took no part decides.
    client.force_login(agent_3)
    _status, page = _act(client, application, "accept")
    assert "Action effectuée : Accepter" in page
    assert dossier_state(application)["status"] == Status.ACCEPTED


def test_attack_b_send_back_then_a_colleague_reproposes_then_the_instructeur_accepts(client):
    application, _porteur = national_submitted_dossier()
    agent_1, agent_2, agent_3 = cnsa(), cnsa(), cnsa()
    _instruct_over_http(client, application, agent_1)
    _status, page = _act(client, application, "propose")
    assert "Action effectuée : Proposer une décision" in page

    # The proposer may not send back their own proposal: sending back is a decider's act.
    before, everything = dossier_state(application), db_state()
    _status, page = _act(client, application, "send_back")
    assert "un autre agent doit décider" in page
    assert dossier_state(application) == before
    assert_unchanged(everything)

    # Someone else sends it back, agent 2 re-proposes: agent 1 still instructed it.
    client.force_login(agent_3)
    _status, page = _act(client, application, "send_back")
    assert "Action effectuée : Renvoyer en instruction" in page
    client.force_login(agent_2)
    _status, page = _act(client, application, "propose")
    assert "Action effectuée : Proposer une décision" in page
    before = dossier_state(application)
    client.force_login(agent_1)
    everything = db_state()
    _status, page = _act(client, application, "accept")
    assert "un autre agent doit décider" in page
    assert dossier_state(application) == before
    assert_unchanged(everything)
    # Agent 3 sent it back: an instruction act too, so agent 3 no longer decides either.
    client.force_login(agent_3)
    _status, page = _act(client, application, "accept")
    assert "un autre agent doit décider" in page
    assert dossier_state(application) == before
    client.force_login(cnsa())
    _status, page = _act(client, application, "reject")
    assert "Action effectuée : Refuser" in page
    assert dossier_state(application)["status"] == Status.REJECTED


def test_scoring_alone_bars_from_deciding():
    application, _porteur = national_submitted_dossier()
    agent_1, scorer = cnsa(), cnsa()
    transition(application=application, action=Action.TAKE, by=agent_1)
    application.refresh_from_db()
    score_and_propose_amounts(application, scorer)  # the scorer enters the scores and amounts
    transition(application=application, action=Action.PROPOSE, by=agent_1)
    assert instructed_since_submission(application, scorer)
    before = dossier_state(application)
    with pytest.raises(GuardFailed, match="autre agent"):
        transition(application=application, action=Action.ACCEPT, by=scorer)
    assert dossier_state(application) == before


def test_asking_for_complements_still_bars_after_the_resubmission():
    """Four eyes count from the (first) submission: a resubmission does not wipe the slate."""
    application, porteur = national_submitted_dossier()
    agent_1, agent_2 = cnsa(), cnsa()
    transition(application=application, action=Action.TAKE, by=agent_2)
    application.refresh_from_db()
    request = complement_request(
        application=application,
        by=agent_1,
        message="Convention ?",
        expected_items="Convention signée",
        deadline=datetime.date(2099, 1, 1),
    )
    complement_answer(request=request, by=porteur, answer="Jointe.")
    application.refresh_from_db()
    score_and_propose_amounts(application, agent_2)
    transition(application=application, action=Action.PROPOSE, by=agent_2)
    before = dossier_state(application)
    for action in (Action.ACCEPT, Action.REJECT, Action.SEND_BACK):
        with pytest.raises(GuardFailed, match="autre agent"):
            transition(application=application, action=action, by=agent_1)
    assert dossier_state(application) == before


def test_the_valideur_who_sent_back_does_not_decide_on_the_new_proposal():
    application, _porteur, instructeur = proposed_dossier()
    valideur_1, valideur_2 = ars(Role.ARS_VALIDEUR), ars(Role.ARS_VALIDEUR)
    transition(
        application=application, action=Action.SEND_BACK, by=valideur_1, comment="Montants à revoir"
    )
    transition(application=application, action=Action.PROPOSE, by=instructeur)
    before = dossier_state(application)
    with pytest.raises(GuardFailed, match="autre agent"):
        transition(application=application, action=Action.ACCEPT, by=valideur_1)
    assert dossier_state(application) == before
    transition(application=application, action=Action.ACCEPT, by=valideur_2)
    application.refresh_from_db()
    assert application.status == Status.ACCEPTED


def test_the_review_page_offers_no_decision_to_a_decider_who_instructed(client):
    application, _porteur = national_submitted_dossier()
    agent_1, agent_2 = cnsa(), cnsa()
    transition(application=application, action=Action.TAKE, by=agent_1)
    application.refresh_from_db()
    score_and_propose_amounts(application, agent_1)
    transition(application=application, action=Action.PROPOSE, by=agent_1)
    application.refresh_from_db()
    accept_url = reverse("applications:act", args=[application.pk, "accept"])

    client.force_login(agent_1)
    page = html.unescape(client.get(reverse("applications:review", args=[application.pk])).text)
    assert accept_url not in page
    assert "un autre agent doit décider (règle des quatre yeux)" in page
    assert not can_act(agent_1, application, Action.ACCEPT)

    client.force_login(agent_2)
    page = html.unescape(client.get(reverse("applications:review", args=[application.pk])).text)
    assert accept_url in page
    assert reverse("applications:act", args=[application.pk, "send_back"]) in page
    assert "règle des quatre yeux" not in page
    assert can_act(agent_2, application, Action.ACCEPT)


def test_an_instructeur_promoted_valideur_sees_no_decision_button(client):
    application, _porteur, instructeur = proposed_dossier()
    instructeur.role = Role.ARS_VALIDEUR
    instructeur.save()
    client.force_login(instructeur)
    page = client.get(reverse("applications:review", args=[application.pk])).text
    assert reverse("applications:act", args=[application.pk, "accept"]) not in page
    assert reverse("applications:act", args=[application.pk, "reject"]) not in page
