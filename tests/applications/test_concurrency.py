"""Two people acting on one dossier at once never both succeed (row lock + version check)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection

from applications.instruction.services import complement_reminders_send
from applications.models import Application, ComplementRequest, WorkflowLog
from applications.workflow import Action, StaleApplication, TransitionError, transition
from essms_portal.accounts.models import Role
from tests.applications.helpers import ars, submitted_dossier
from tests.conftest import ensure_referential


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_takes_only_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("Row locks need PostgreSQL (CI runs this test on PostgreSQL).")
    ensure_referential()
    application, _porteur = submitted_dossier()
    version = application.version
    agents = [ars(Role.ARS_INSTRUCTEUR), ars(Role.ARS_INSTRUCTEUR)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(agent):
        try:
            barrier.wait(timeout=10)
            transition(
                application=application, action=Action.TAKE, by=agent, expected_version=version
            )
            outcomes.append("ok")
        except StaleApplication:
            outcomes.append("stale")
        except TransitionError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok", "stale"]
    assert WorkflowLog.objects.filter(action=Action.TAKE).count() == 1
    assert Application.objects.get().version == version + 1


@pytest.mark.django_db
def test_complement_reminders_are_sent_once_before_the_deadline(
    mailoutbox, django_capture_on_commit_callbacks
):
    application, porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    transition(application=application, action=Action.ASK_COMPLEMENT, by=instructeur)
    today = datetime.date(2030, 1, 10)
    ComplementRequest.objects.create(
        application=application,
        requested_by=instructeur,
        message="Convention",
        expected_items="Convention signée",
        deadline=today + datetime.timedelta(days=2),
    )
    # Recorded in the outbox with the reminder's mark, sent once that commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert complement_reminders_send(today=today) == 1
    assert mailoutbox[-1].to == [porteur.email]
    assert "Convention signée" in mailoutbox[-1].body
    assert complement_reminders_send(today=today) == 0


@pytest.mark.django_db
def test_answering_a_complement_request_puts_the_dossier_back_in_review():
    from applications.dossiers.services import complement_answer
    from applications.instruction.services import complement_request

    application, porteur = submitted_dossier()
    instructeur = ars(Role.ARS_INSTRUCTEUR)
    transition(application=application, action=Action.TAKE, by=instructeur)
    request = complement_request(
        application=application,
        by=instructeur,
        message="Devis ?",
        expected_items="Devis",
        deadline=datetime.date(2099, 1, 1),
    )
    complement_answer(request=request, by=porteur, answer="Devis joint.")
    request.refresh_from_db()
    assert request.answered_at is not None
    assert Application.objects.get().status == "in_review"
    assert complement_reminders_send(today=datetime.date(2098, 12, 30)) == 0
