"""A real Celery worker on Redis builds a batch export; killed mid-batch and restarted, it
finishes the ZIP with every decision exactly once."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.core.files.storage import default_storage
from django.db import connection, transaction

from applications.decision_tasks import build_decision_export
from applications.decisions import decision_export_resume_if_stale, export_workdir
from applications.models import Decision, DecisionExport
from essms_portal.celery import app
from tests.applications.test_decisions import cnsa_agent
from tests.applications.test_exports import assert_complete, issued

ROOT = Path(__file__).resolve().parent.parent.parent
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"délai dépassé : {what}")


@pytest.fixture
def start_worker() -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start Celery workers against Redis and the test database; stop them at the end."""
    try:
        redis.Redis.from_url(BROKER).ping()
    except redis.RedisError:
        pytest.skip("Redis ne répond pas : le test du worker Celery ne peut pas tourner.")
    if connection.vendor != "postgresql":
        pytest.skip("Le worker a besoin de la base PostgreSQL de test.")
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
    }
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "essms_portal",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        return process

    previous = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER
    app.conf.result_backend = BROKER
    try:
        yield start
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def test_a_worker_killed_mid_batch_is_restarted_and_the_zip_has_each_decision_once(
    start_worker,
):
    expected = issued(6)
    job = DecisionExport.objects.create(requested_by=cnsa_agent(), total=len(expected))
    job.decisions.add(*expected)
    workdir = export_workdir(job.pk)

    def entries() -> int:
        return len(list(workdir.glob("*.pdf"))) if workdir.exists() else 0

    # Hold the job row: the worker writes its first entry, then blocks on its first progress
    # update; it is killed there, mid-batch, with no chance to clean up.
    with transaction.atomic():
        DecisionExport.objects.select_for_update().get(pk=job.pk)
        first = start_worker()
        build_decision_export.delay(job.pk)
        _wait_for(lambda: entries() >= 1, 90, "la première entrée du ZIP")
        time.sleep(0.5)
        first.kill()
        first.wait(timeout=30)
    assert entries() == 1
    job.refresh_from_db()
    assert job.status in (DecisionExport.Status.PENDING, DecisionExport.Status.RUNNING)
    assert not job.archive

    # A new worker; the job shows no sign of life, so polling its status queues it again.
    start_worker()
    assert decision_export_resume_if_stale(job=job, stale_after=datetime.timedelta(0))

    def finished() -> bool:
        job.refresh_from_db()
        assert job.status != DecisionExport.Status.FAILED, job.error
        return job.status == DecisionExport.Status.DONE

    _wait_for(finished, 120, "la fin de l'export")
    assert job.done == job.total == len(expected)
    assert_complete(job, expected)
    assert not workdir.exists()


@pytest.fixture(autouse=True)
def _remove_files() -> Iterator[None]:
    """The worker shares the test storage (another process): remove this test's files."""
    yield
    for decision in Decision.objects.all():
        default_storage.delete(decision.pdf.name)
    for job in DecisionExport.objects.exclude(archive=""):
        default_storage.delete(job.archive.name)
