"""The national synthetic campaign, at a reduced size (2 000 establishments)."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from applications.demo.national import EMAIL_DOMAIN, seed_national
from applications.demo.simple import seed_small
from applications.models import Application, Call, ProposedAmount, WorkflowLog
from applications.workflow import (
    INSTRUCTION_ACTIONS,
    RECORDS,
    TRANSITIONS,
    Action,
    Status,
    instructed_since_submission,
)
from essms_portal.identifiers import finess_error, is_valid_siren, siret_error
from grappes.models import Grappe, GrappeMembership, Organisation, Structure

pytestmark = pytest.mark.django_db

SIZE = 2_000


@pytest.fixture
def small_structures():
    """The ESSMS of the small demo, which the national dataset is loaded on top of."""
    return seed_small().structures


@pytest.fixture
def national(small_structures):
    return seed_national(structures=SIZE, seed=7)


def national_applications():
    return Application.objects.filter(created_by__email__endswith=f"@{EMAIL_DOMAIN}")


def test_counts_and_every_status(national, small_structures):
    assert national.created
    assert national.structures == SIZE
    assert national.organisations == SIZE // 5
    assert Structure.objects.count() == SIZE + small_structures
    assert national.grappes == national.applications == national_applications().count()
    assert set(national.statuses) == set(Status.values)
    assert Counter(national_applications().values_list("status", flat=True)) == national.statuses


def test_identifiers_have_valid_keys(national):
    for finess, siret in Structure.objects.values_list("finess", "siret"):
        assert finess_error(finess) is None, finess
        assert siret_error(siret) is None, siret
    for finess, siren in Organisation.objects.values_list("finess", "siren"):
        assert finess_error(finess) is None, finess
        assert is_valid_siren(siren), siren


def test_grappes_respect_the_size_rules_and_calls(national):
    sizes = dict(Grappe.objects.annotate(n=Count("memberships")).values_list("pk", "n"))
    for application in national_applications().select_related("call", "call__region"):
        size = sizes[application.grappe_id]
        if application.call.scope == Call.Scope.NATIONAL:
            assert 50 <= size <= 80
        else:
            minimum = 8 if application.call.region.reduced_grappe_minimum else 15
            assert minimum <= size <= 49
    assert national_applications().filter(call__scope=Call.Scope.NATIONAL).exists()
    # An ESSMS belongs to one grappe at most and only ESSMS are members.
    assert not GrappeMembership.objects.values("structure").annotate(n=Count("id")).filter(n__gt=1)
    assert not GrappeMembership.objects.filter(structure__eligible=False).exists()
    # Regional grappes keep to their region.
    for membership in GrappeMembership.objects.filter(
        grappe__applications__call__scope=Call.Scope.REGIONAL
    ).select_related("structure__departement", "grappe")[:500]:
        call = membership.grappe.applications.get().call
        assert membership.structure.departement.region_id == call.region_id


def test_dates_and_logs_are_consistent(national):
    for application in national_applications().prefetch_related("log_entries"):
        entries = list(application.log_entries.order_by("id"))
        # Transitions and proposal edits bump the version; scores and assignments do not.
        bumps = [e for e in entries if e.action not in RECORDS or e.action == "edit_proposal"]
        assert application.version == 1 + len(bumps)
        if application.status in (Status.DRAFT, Status.WITHDRAWN):
            assert application.submitted_at is None or entries[0].action == "submit"
        else:
            assert application.submitted_at == entries[0].created_at
        status = Status.DRAFT
        previous = application.created_at
        for entry in entries:
            if entry.action in RECORDS:
                assert status in RECORDS[entry.action][0]
                assert entry.from_status == entry.to_status == status
            else:
                assert TRANSITIONS[(status, entry.action)][0] == entry.to_status
            assert entry.created_at > previous
            status, previous = entry.to_status, entry.created_at
        assert status == application.status
        taken = [e for e in entries if e.action == Action.TAKE]
        assigned = [e for e in entries if e.action == Action.ASSIGN]
        assert len(assigned) == len(taken)
        assert application.assignee_id == (assigned[0].actor_id if assigned else None)
        if application.status in (Status.ACCEPTED, Status.REJECTED, Status.NOTIFIED):
            assert application.decided_at is not None
    national_entries = WorkflowLog.objects.filter(application__in=national_applications())
    assert national_entries.count() == national.log_entries
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "Journal intègre" in out.getvalue()


def test_four_eyes_hold_in_the_seeded_logs(national):
    """Whoever accepts or rejects took no instruction act since the submission (send back
    included); whoever sends back had taken none before; each proposal follows a score and a
    proposal edit, by the instructeur whose review and amounts are stored."""
    decided = sent_back = decided_after_send_back = 0
    for application in national_applications().prefetch_related("log_entries", "reviews"):
        entries = list(application.log_entries.order_by("id"))
        for index, entry in enumerate(entries):
            if entry.action in (Action.ACCEPT, Action.REJECT):
                decided += 1
                decided_after_send_back += any(e.action == Action.SEND_BACK for e in entries)
                assert not instructed_since_submission(application, entry.actor), application.pk
            if entry.action == Action.SEND_BACK:
                sent_back += 1
                assert not any(
                    e.actor_id == entry.actor_id and e.action in INSTRUCTION_ACTIONS
                    for e in entries[:index]
                ), application.pk
            if entry.action == Action.PROPOSE:
                since = [e.action for e in entries[:index]]
                assert Action.EDIT_PROPOSAL in since[since.index(Action.TAKE) :]
        scores = [e for e in entries if e.action == Action.SCORE]
        reviews = list(application.reviews.all())
        assert [e.actor_id for e in scores] == [r.reviewer_id for r in reviews]
        for score, review in zip(scores, reviews, strict=True):
            assert score.comment.startswith(f"Note {review.score:.2f}".replace(".", ","))
    # The data has the case the old seed got wrong: a decision after a send back.
    assert decided and sent_back and decided_after_send_back


def test_proposed_amounts_fit_the_envelopes(national):
    assert national.reviews == national_applications().filter(reviews__isnull=False).count()
    for call in Call.objects.all():
        accepted = ProposedAmount.objects.filter(
            application__call=call,
            application__decided_at__isnull=False,
            application__recommendation="accept",
        ).aggregate(total=Sum("proposed"))["total"]
        assert (accepted or 0) <= call.envelope


def test_second_run_does_nothing(national, small_structures):
    again = seed_national(structures=SIZE, seed=7)

    assert not again.created
    assert Structure.objects.count() == SIZE + small_structures


def test_seed_demo_command_national_scale(monkeypatch):
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return seed_national(structures=300, seed=kwargs["seed"])

    monkeypatch.setattr("applications.management.commands.seed_demo.seed_national", fake)
    out = StringIO()
    call_command("seed_demo", "--scale", "national", "--seed", "3", stdout=out)

    assert calls[0]["seed"] == 3
    assert "Jeu national chargé" in out.getvalue()
    assert "Démonstration chargée" in out.getvalue()
