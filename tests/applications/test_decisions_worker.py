"""A real Celery worker on Redis builds a batch export; killed mid-batch and restarted, it
finishes the ZIP with every decision exactly once.

Every wait is on a condition (files on disk, PostgreSQL's view of the worker's connections, the
job's row), never on elapsed time, with generous deadlines: a busy machine is only slower."""

from __future__ import annotations

import datetime
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.core.files.storage import default_storage
from django.db import connection, transaction

from applications.decisions.services import decision_export_resume_if_stale, export_workdir
from applications.decisions.tasks import build_decision_export
from applications.models import Decision, DecisionExport
from essms_portal.celery import app
from tests.applications.helpers import assert_complete, cnsa_agent, issued

ROOT = Path(__file__).resolve().parent.parent.parent
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Deadlines only bound a failure: on a loaded machine a step may take long, never forever.
DEADLINE = float(os.environ.get("WORKER_TEST_DEADLINE", "300"))

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    # PGAPPNAME of its database connections: PostgreSQL shows us what this worker is doing.
    application_name: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _wait_for(condition: Callable[[], bool], what: str, *, alive: Worker | None = None) -> None:
    """Poll ``condition`` until it holds; fail at the deadline, or at once if ``alive`` died."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if alive is not None and alive.process.poll() is not None:
            raise AssertionError(f"le worker s'est arrêté avant : {what}\n{alive.output()}")
        if time.monotonic() > deadline:
            detail = f"\n{alive.output()}" if alive is not None else ""
            raise AssertionError(f"délai dépassé ({DEADLINE:.0f} s) : {what}{detail}")
        time.sleep(0.1)


def _backends(worker: Worker, *, waiting_on_lock: bool = False) -> int:
    """How many PostgreSQL connections of ``worker`` exist (or wait on a row lock) right now."""
    with connection.cursor() as cursor:
        # pg_stat_activity is a snapshot per transaction: take a fresh one (we may be in one).
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            + (" AND wait_event_type = 'Lock'" if waiting_on_lock else ""),
            [worker.application_name],
        )
        return int(cursor.fetchone()[0])


def _terminate_backends(worker: Worker) -> None:
    """End every PostgreSQL connection of ``worker`` (what the server does for a dead client)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [worker.application_name],
        )


def _clear_broker() -> None:
    """Drop queued and unacknowledged messages (a killed worker leaves its message unacked,
    to be redelivered an hour later into another run): each test starts from an empty broker."""
    app.control.purge()
    redis.Redis.from_url(BROKER).delete("unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[], Worker]]:
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
    workers: list[Worker] = []
    numbers = itertools.count(1)

    def start() -> Worker:
        number = next(numbers)
        name = f"esms-test-worker-{os.getpid()}-{number}"
        log = tmp_path / f"worker-{number}.log"
        with log.open("wb") as sink:
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
                env={**env, "PGAPPNAME": name},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process=process, application_name=name, log=log)
        workers.append(worker)
        return worker

    previous = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER
    app.conf.result_backend = BROKER
    _clear_broker()
    try:
        yield start
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        _clear_broker()
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous


def test_a_worker_killed_mid_batch_is_restarted_and_the_zip_has_each_decision_once(
    start_worker,
):
    expected = issued(6)
    job = DecisionExport.objects.create(requested_by=cnsa_agent(), total=len(expected))
    job.decisions.add(*expected)
    workdir = export_workdir(job.pk)
    shutil.rmtree(workdir, ignore_errors=True)  # left over by an interrupted earlier run

    def entries() -> int:
        return len(list(workdir.glob("*.pdf"))) if workdir.exists() else 0

    # Hold the job row: the worker writes its first entry, then blocks on its first progress
    # update; once PostgreSQL shows it waiting on that lock, it is killed there, mid-batch,
    # with no chance to clean up.
    with transaction.atomic():
        DecisionExport.objects.select_for_update().get(pk=job.pk)
        first = start_worker()
        build_decision_export.delay(job.pk)
        _wait_for(
            lambda: entries() >= 1 and _backends(first, waiting_on_lock=True) >= 1,
            "la première entrée du ZIP, puis le worker bloqué sur sa mise à jour",
            alive=first,
        )
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=DEADLINE)
        # PostgreSQL notices a dead client only when it next talks to it: left alone, the
        # killed worker's blocked UPDATE would still run (or not) once the lock is released.
        # End its server-side connections while the lock is held, as a dead worker's would
        # end: its first progress update never lands, and the job is exactly as created.
        _terminate_backends(first)
    _wait_for(lambda: _backends(first) == 0, "la fin des connexions du worker tué")
    assert entries() == 1
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.PENDING
    assert job.done == 0
    assert not job.archive

    # A new worker; the job shows no sign of life (stale_after=0: the test decides it is
    # stale, no clock involved), so polling its status queues it again.
    second = start_worker()
    assert decision_export_resume_if_stale(job=job, stale_after=datetime.timedelta(0))

    def finished() -> bool:
        job.refresh_from_db()
        assert job.status != DecisionExport.Status.FAILED, job.error
        return job.status == DecisionExport.Status.DONE

    _wait_for(finished, "la fin de l'export", alive=second)
    assert job.done == job.total == len(expected)
    assert_complete(job, expected)
    # The task removes its work directory after marking the job done: wait for it as well.
    _wait_for(lambda: not workdir.exists(), "la suppression du répertoire de travail", alive=second)


@pytest.fixture(autouse=True)
def _remove_files() -> Iterator[None]:
    """The worker shares the test storage (another process): remove this test's files."""
    yield
    for decision in Decision.objects.all():
        default_storage.delete(decision.pdf.name)
    for job in DecisionExport.objects.exclude(archive=""):
        default_storage.delete(job.archive.name)
