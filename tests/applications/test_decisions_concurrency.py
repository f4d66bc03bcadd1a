"""Decisions issued at the same time by two agents: numbers without duplicates or gaps."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from applications.decisions import services as decisions
from applications.decisions.services import decision_issue
from applications.models import Decision, DecisionCounter
from tests.applications.helpers import cnsa_agent, decided_dossier, roomy_call

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("private_storage"),
]

PER_THREAD = 4


def test_two_agents_issuing_at_once_never_duplicate_or_skip_a_number():
    if connection.vendor != "postgresql":
        pytest.skip("Row locks need PostgreSQL (CI runs this test on PostgreSQL).")
    call = roomy_call()
    dossiers = [decided_dossier(call=call) for _ in range(2 * PER_THREAD)]
    agents = [cnsa_agent(), cnsa_agent()]
    batches = [dossiers[0::2], dossiers[1::2]]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def issue(agent, batch):
        # Each thread has its own database connection (Django connections are per thread).
        try:
            barrier.wait(timeout=10)
            for application in batch:
                decision_issue(application=application, by=agent)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=issue, args=(agent, batch))
        for agent, batch in zip(agents, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    numbers = sorted(Decision.objects.values_list("number", flat=True))
    expected = [f"2023-11-{n:04d}" for n in range(1, 2 * PER_THREAD + 1)]
    assert numbers == expected
    sequences = sorted(Decision.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, 2 * PER_THREAD + 1))
    assert DecisionCounter.objects.get(region_key="11").last_sequence == 2 * PER_THREAD
    # Both agents really issued (the batches interleaved rather than ran one after the other).
    assert set(Decision.objects.values_list("issued_by", flat=True)) == {a.pk for a in agents}


def test_a_failure_after_numbering_gives_the_number_back(monkeypatch):
    """A crash between the counter increment and the insert rolls the counter back too."""
    call = roomy_call()
    first, second = decided_dossier(call=call), decided_dossier(call=call)
    agent = cnsa_agent()

    def broken(*args, **kwargs):
        raise RuntimeError("panne après la numérotation")

    # Called once the counter is incremented, before the insert.
    monkeypatch.setattr(decisions, "decision_snapshot_numbered", broken)
    with pytest.raises(RuntimeError):
        decision_issue(application=first, by=agent)
    monkeypatch.undo()
    assert not Decision.objects.exists()
    assert decision_issue(application=second, by=agent).number == "2023-11-0001"
    assert decision_issue(application=first, by=agent).number == "2023-11-0002"


def test_the_counter_lock_alone_serialises_allocations():
    """Independently of the dossier row locks taken by the workflow: two threads allocating
    from the same counter, each holding its transaction open a little, get distinct,
    consecutive numbers."""
    import time

    from django.db import transaction

    if connection.vendor != "postgresql":
        pytest.skip("Row locks need PostgreSQL (CI runs this test on PostgreSQL).")
    campaign = roomy_call().campaign
    barrier = threading.Barrier(2)
    allocated: list[int] = []
    errors: list[BaseException] = []

    def allocate():
        try:
            barrier.wait(timeout=10)
            for _ in range(10):
                with transaction.atomic():
                    sequence = decisions.decision_sequence_allocate(
                        campaign=campaign, region_key="93"
                    )
                    time.sleep(0.005)  # the insert and the letter would happen here
                allocated.append(sequence)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(allocated) == list(range(1, 21))
