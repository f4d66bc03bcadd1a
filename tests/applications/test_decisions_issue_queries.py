"""Issue #13: issuing a decision costs a fixed, small number of queries (the rate of issue on
the national dataset depends on it), the transition hooks get the entry just written instead
of reading it again, and a refused issue still undoes everything."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from post_office.models import Email

from applications import workflow
from applications.decisions.services import decision_issue
from applications.models import Application, Decision, WorkflowLog
from applications.workflow import Action, Status, TransitionNotAllowed
from grappes.models import Structure
from tests.applications.helpers import cnsa_agent, decided_dossier
from tests.dbstate import assert_unchanged, db_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]

# The issue's statements, inside the test's transaction (hence a savepoint and its release
# instead of BEGIN and COMMIT; the transition has none of its own, the issue's block rolls back
# as a whole): the dossier's row lock (with its
# grappe, porteur, call, campaign and region), its update, the log's last hash and the new entry,
# the applicants' addresses and their e-mails (one INSERT), the signatory, then the letter's
# data, the counter's upsert and the decision's insert.
COMMON = ["SAVEPOINT", "lock", "update", "last hash", "log entry", "recipients", "e-mails"]
COMMON += ["signatory"]
TAIL = ["counter", "decision", "RELEASE SAVEPOINT"]
# Accepted: the proposed amounts and the ESSMS lines (a dossier with hardware lines adds the
# names of their gestionnaires; these have none).
ACCEPTED = [*COMMON, "proposed amounts", "ESSMS lines", *TAIL]
# Rejected: no amount is shown; the ESSMS lines and the motivation (the REJECT entry's comment).
REJECTED = [*COMMON, "ESSMS lines", "motivation", *TAIL]


def _issue_queries(application: Application) -> list[str]:
    agent = cnsa_agent()
    with CaptureQueriesContext(connection) as queries:
        decision_issue(application=application, by=agent)
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize(
    ("recommendation", "expected"), [("accept", ACCEPTED), ("reject", REJECTED)]
)
def test_issuing_a_decision_takes_a_fixed_number_of_queries(recommendation, expected):
    application = decided_dossier(recommendation)
    statements = _issue_queries(application)

    assert len(statements) == len(expected), "\n".join(sql[:120] for sql in statements)
    # Nothing is read twice: neither the entry just written, nor the call (loaded with the
    # locked dossier), nor the campaign's Ségur items (the tranches need only the percentage).
    assert not any(sql.startswith('SELECT "applications_workflowlog"."id"') for sql in statements)
    assert not any('FROM "applications_call"' in sql for sql in statements)
    assert not any("segur_exempt_items" in sql for sql in statements)
    assert Decision.objects.filter(application=application).count() == 1
    assert Email.objects.filter(subject__contains=f"n° {application.pk}").exists()


def test_the_query_count_does_not_grow_with_the_grappe():
    small = _issue_queries(decided_dossier(count=15))
    large = _issue_queries(decided_dossier(count=45))
    assert len(small) == len(large) == len(ACCEPTED)


def test_a_transition_hook_gets_the_entry_just_written_with_its_locked_dossier(monkeypatch):
    application = decided_dossier()
    seen: list[tuple[WorkflowLog, int]] = []

    def hook(*, entry: WorkflowLog) -> None:
        with CaptureQueriesContext(connection) as queries:
            # What the e-mails read: the dossier, its grappe, its call and campaign.
            names = (
                entry.application.grappe.name,
                entry.application.call.name,
                entry.application.call.campaign.year,
            )
        assert all(names)
        seen.append((entry, len(queries.captured_queries)))

    monkeypatch.setattr(workflow, "_transition_hooks", list(workflow._transition_hooks))
    workflow.on_transition(hook)
    decision_issue(application=application, by=cnsa_agent())

    [(entry, queries)] = seen
    assert queries == 0
    assert entry.pk == WorkflowLog.objects.filter(application=application).latest("id").pk
    assert (entry.action, entry.to_status) == (Action.NOTIFY, Status.NOTIFIED)
    assert entry.application.status == Status.NOTIFIED


def test_a_refused_issue_under_a_callers_transaction_changes_nothing_and_leaves_it_usable():
    """A refused issue undoes everything (number, log, e-mails), and a caller that catches the
    refusal inside its own transaction (a view under ATOMIC_REQUESTS) can go on."""
    application = decided_dossier()
    agent = cnsa_agent()
    decision_issue(application=application, by=agent)
    before = db_state()
    emails = Email.objects.count()

    with transaction.atomic():  # the caller's transaction (the test's is around it too)
        with pytest.raises(TransitionNotAllowed):
            decision_issue(application=application, by=agent)  # already notified
        # Still usable: the refusal rolled back to the issue's savepoint only.
        assert Application.objects.filter(pk=application.pk).exists()

    assert_unchanged(before)
    assert Email.objects.count() == emails


def test_an_essms_without_a_known_category_keeps_its_raw_code_on_the_letter():
    application = decided_dossier()
    membership = application.grappe.memberships.select_related("structure").order_by(
        "structure__finess"
    )[0]
    Structure.objects.filter(pk=membership.structure_id).update(category=None, category_code="999")

    decision = decision_issue(application=application, by=cnsa_agent())

    first, second = decision.snapshot["lines"][:2]
    assert (first["finess"], first["category"], first["casf_item"]) == (
        membership.structure.finess,
        "999",
        "",
    )
    assert second["category"].startswith("500 — ") and second["casf_item"]
