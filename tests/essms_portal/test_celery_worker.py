"""A real Celery worker, started as a process against Redis, runs a task end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from essms_portal.celery import app
from essms_portal.tasks import send_email_task

ROOT = Path(__file__).resolve().parent.parent.parent
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(BROKER).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def worker():
    if not _redis_up():
        pytest.skip("Redis ne répond pas : le test du worker Celery ne peut pas tourner.")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.test",
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
    }
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
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    previous = (app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend)
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER
    app.conf.result_backend = BROKER
    try:
        yield process
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.result_backend = previous
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def test_worker_sends_an_email_task_end_to_end(worker):
    deadline = time.monotonic() + 60
    result = send_email_task.apply_async(
        kwargs={"subject": "Essai", "body": "Corps", "recipients": ["porteur@example.fr"]}
    )
    # The worker process sends it with its own (in-memory) backend and reports 1 message sent.
    assert result.get(timeout=max(1.0, deadline - time.monotonic())) == 1
    assert result.successful()
