"""Issue #9, hole 5: scores and proposed amounts are frozen once the decision is proposed (they
change only in instruction; a send back reopens them), and every score, proposal edit and
assignment is an entry of the dossier's hash-chained log. Attacks over HTTP, database re-read."""

from __future__ import annotations

import html
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from applications.admin import ApplicationAdmin
from applications.errors import DossierError
from applications.instruction.services import (
    application_assign,
    call_default_grid,
    proposal_lines,
    proposal_save,
    review_save,
)
from applications.models import WorkflowLog
from applications.notifications import recipients_for
from applications.workflow import (
    RECORDED_ACTIONS,
    Action,
    Status,
    TransitionError,
    TransitionNotAllowed,
    transition,
    verify_chain,
)
from essms_portal.accounts.models import Role
from tests.applications.helpers import (
    ars,
    cnsa,
    dossier_state,
    proposal_post,
    proposed_dossier,
    review_post,
    submitted_dossier,
)
from tests.dbstate import assert_unchanged, db_state

pytestmark = pytest.mark.django_db


def _decided(status: str):
    """A regional dossier scored 100/100 by its instructeur, then brought to ``status``."""
    application, _porteur, instructeur = proposed_dossier()
    if status in (Status.ACCEPTED, Status.NOTIFIED):
        transition(application=application, action=Action.ACCEPT, by=ars(Role.ARS_VALIDEUR))
    if status == Status.NOTIFIED:
        transition(application=application, action=Action.NOTIFY, by=cnsa())
    application.refresh_from_db()
    assert application.status == status
    return application, instructeur


@pytest.mark.parametrize("status", [Status.PROPOSED, Status.ACCEPTED, Status.NOTIFIED])
def test_an_all_zero_evaluation_after_the_proposal_is_refused_over_http(client, status):
    application, instructeur = _decided(status)
    before = dossier_state(application)
    assert before["reviews"][0][1] == 100
    client.force_login(instructeur)
    everything = db_state()
    response = client.post(
        reverse("applications:save_review", args=[application.pk]),
        review_post(application, 0, "Tout à zéro"),
        follow=True,
    )
    page = html.unescape(response.text)
    assert response.status_code == 200
    assert "Les notes sont figées" in page
    assert "Évaluation enregistrée." not in page
    assert dossier_state(application) == before
    assert_unchanged(everything)


@pytest.mark.parametrize("status", [Status.PROPOSED, Status.ACCEPTED, Status.NOTIFIED])
def test_proposed_amounts_cannot_change_once_proposed_over_http(client, status):
    application, instructeur = _decided(status)
    before = dossier_state(application)
    data = proposal_post(application, recommendation="reject", motivation="Changé après coup")
    data.update({"amount_0": 0, "reason_0": "Réduit après la décision"})
    client.force_login(instructeur)
    everything = db_state()
    response = client.post(
        reverse("applications:save_proposal", args=[application.pk]), data, follow=True
    )
    assert "ne se modifient que pendant l'instruction" in html.unescape(response.text)
    assert dossier_state(application) == before
    assert_unchanged(everything)


def test_services_refuse_frozen_writes_even_when_a_view_forgets():
    application, instructeur = _decided(Status.ACCEPTED)
    before = dossier_state(application)
    criteria = call_default_grid(call=application.call)
    with pytest.raises(TransitionError, match="Les notes sont figées"):
        review_save(
            application=application,
            by=instructeur,
            marks=dict.fromkeys(criteria, 0),
            comment="",
        )
    with pytest.raises(TransitionError, match="montants proposés sont figés"):
        proposal_save(
            application=application,
            by=instructeur,
            amounts={key: (0, "zéro") for key, _l, _c in proposal_lines(application=application)},
            recommendation="reject",
            motivation="Après coup",
            expected_version=application.version,
        )
    assert dossier_state(application) == before


@pytest.mark.parametrize("who", ["cnsa", "valideur", "other_region_instructeur"])
def test_only_the_dossier_instructeurs_score_it(who):
    application, _porteur = submitted_dossier()
    transition(application=application, action=Action.TAKE, by=ars(Role.ARS_INSTRUCTEUR))
    outsider = {
        "cnsa": cnsa,
        "valideur": lambda: ars(Role.ARS_VALIDEUR),
        "other_region_instructeur": lambda: ars(Role.ARS_INSTRUCTEUR, region="84"),
    }[who]()
    before = dossier_state(application)
    with pytest.raises(TransitionNotAllowed):
        review_save(
            application=application,
            by=outsider,
            marks=dict.fromkeys(call_default_grid(call=application.call), 5),
            comment="",
        )
    assert dossier_state(application) == before


def test_a_send_back_reopens_the_scores(client):
    application, instructeur = _decided(Status.PROPOSED)
    transition(application=application, action=Action.SEND_BACK, by=ars(Role.ARS_VALIDEUR))
    client.force_login(instructeur)
    response = client.post(
        reverse("applications:save_review", args=[application.pk]),
        review_post(application, 4),
        follow=True,
    )
    assert "Évaluation enregistrée." in html.unescape(response.text)
    assert str(application.reviews.get().score) == "80.00"


def test_every_score_and_proposal_edit_is_a_chained_entry_and_e_mails_nobody(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    client.force_login(instructeur)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("applications:save_review", args=[application.pk]),
            review_post(application, 4, "Bon dossier"),
        )
        client.post(
            reverse("applications:save_proposal", args=[application.pk]),
            proposal_post(application, motivation="Conforme au cahier des charges"),
        )
    assert mailoutbox == []
    entries = list(application.log_entries.order_by("id"))
    assert [e.action for e in entries] == ["submit", "take", "score", "edit_proposal"]
    score, edit = entries[2], entries[3]
    assert score.from_status == score.to_status == Status.IN_REVIEW
    assert score.actor == instructeur
    assert score.comment.startswith("Note 80,00/100 — Gouvernance et convention de grappe : 4/5")
    assert "Appréciation : Bon dossier" in score.comment
    assert "recommandation : accepter" in edit.comment
    assert "Conforme au cahier des charges" in edit.comment
    assert score.previous_hash == entries[1].entry_hash
    assert verify_chain(entries) is None
    assert all(recipients_for(e) == set() for e in (score, edit))
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "Journal intègre : 4 entrées vérifiées" in out.getvalue()


def test_the_review_page_hides_the_frozen_forms(client):
    application, instructeur = _decided(Status.PROPOSED)
    client.force_login(instructeur)
    page = html.unescape(client.get(reverse("applications:review", args=[application.pk])).text)
    assert reverse("applications:save_review", args=[application.pk]) not in page
    assert reverse("applications:save_proposal", args=[application.pk]) not in page
    assert "Les notes sont figées" in page
    assert "Évaluation enregistrée" in page  # the history shows the logged score


def test_assignment_is_logged_and_closed_once_decided(client):
    application, _porteur = submitted_dossier()
    instructeur, colleague = ars(Role.ARS_INSTRUCTEUR), ars(Role.ARS_INSTRUCTEUR)
    client.force_login(instructeur)
    client.post(reverse("applications:assign", args=[application.pk]), {"assignee": colleague.pk})
    entry = application.log_entries.order_by("-id").first()
    assert entry.action == Action.ASSIGN
    assert entry.comment == f"Dossier affecté à {colleague.email}"
    # Assigning someone who cannot instruct the dossier is refused by the service.
    before = dossier_state(application)
    with pytest.raises(DossierError, match="n'instruit pas"):
        application_assign(application=application, assignee=cnsa(), by=instructeur)
    assert dossier_state(application) == before

    decided, instructeur = _decided(Status.ACCEPTED)
    before = dossier_state(decided)
    client.force_login(instructeur)
    response = client.post(
        reverse("applications:assign", args=[decided.pk]), {"assignee": colleague.pk}, follow=True
    )
    assert "L'affectation ne se modifie plus" in html.unescape(response.text)
    assert dossier_state(decided) == before


def test_recorded_acts_are_not_transitions():
    application, _porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    count = WorkflowLog.objects.count()
    for action in RECORDED_ACTIONS:
        with pytest.raises(TransitionNotAllowed):
            transition(application=application, action=action, by=instructeur)
        assert f"apply_{action}" not in ApplicationAdmin.actions
    assert WorkflowLog.objects.count() == count
