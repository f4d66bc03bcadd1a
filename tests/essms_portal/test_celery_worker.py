"""A real Celery worker, started as a process against Redis, runs a task end to end.

The test waits on conditions (the task's result, the worker still alive), not on a fixed time:
a busy machine starts the worker slowly, the deadline only bounds a genuine failure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from essms_portal.celery import app
from essms_portal.tasks import send_email_task

ROOT = Path(__file__).resolve().parent.parent.parent
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
DEADLINE = float(os.environ.get("WORKER_TEST_DEADLINE", "300"))


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(BROKER).ping())
    except redis.RedisError:
        return False


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    if not _redis_up():
        pytest.skip("Redis ne répond pas : le test du worker Celery ne peut pas tourner.")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test",
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
    }
    previous = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER
    app.conf.result_backend = BROKER
    # Start from an empty queue: a message left by an earlier run would be served first.
    app.control.purge()
    # The worker's output goes to a file (a pipe nobody reads could fill up and block it).
    log = tmp_path / "worker.log"
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
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, log
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_worker_sends_an_email_task_end_to_end(worker):
    process, log = worker
    result = send_email_task.apply_async(
        kwargs={"subject": "Essai", "body": "Corps", "recipients": ["porteur@example.fr"]}
    )
    # Wait until the result is in (the worker may take long to start on a busy machine); fail
    # at once if the worker dies, and only after a generous deadline if it never answers.
    deadline = time.monotonic() + DEADLINE
    while not result.ready():
        assert process.poll() is None, f"le worker s'est arrêté :\n{_log_tail(log)}"
        assert time.monotonic() < deadline, (
            f"délai dépassé ({DEADLINE:.0f} s) : pas de résultat du worker\n{_log_tail(log)}"
        )
        time.sleep(0.2)
    # The worker process sends it with its own (in-memory) backend and reports 1 message sent.
    # Read the stored result (it is in: ``ready()``) rather than ``get()``, which refuses to run
    # when an earlier test left Celery's in-process "inside a task" flag set.
    assert result.successful(), result.traceback
    assert result.result == 1
    assert result.successful()
