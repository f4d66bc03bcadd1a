"""Benchmark of issuing decisions on the national dataset (issue #13); not a test.

Measures, on a PostgreSQL database holding the national seed (a COPY: the benchmark issues
decisions, which are immutable — never point it at a database you want to keep):

1. **issuing** — ``decision_issue`` (NOTIFY transition, number, snapshot, verification code,
   insert, render task published after commit) on accepted dossiers, one after the other, as
   decisions per second; next to the former path for comparison (the same issue with the letter
   rendered in the transaction, as before issue #13: ``inline``);
2. **rendering** — pending letters rendered by real Celery worker processes (``--pool=solo``,
   one process = one worker) on Redis: letters per second with 1 worker, then with 2, and the
   ratio (goal ≥ 1.7 on a machine with 2 free cores).

For the global harness (``make bench``) the two measures are functions that run in a child
process (Django is configured for the given database there, whatever the caller's settings)
and return plain dicts::

    from scripts.bench_decisions import measure_issuing, measure_rendering
    measure_issuing("postgres://postgres@127.0.0.1:5432/h_c_bench", count=60)
    # {"count": 60, "seconds": 0.9, "per_second": 66.1,
    #  "inline_count": 10, "inline_per_second": 2.4, "goal_per_second": 50}
    measure_rendering("postgres://…/h_c_bench", "redis://127.0.0.1:6379/3", count=24)
    # {"count": 24, "one_worker_per_second": 2.1, "two_workers_per_second": 3.9,
    #  "ratio": 1.86, "goal_ratio": 1.7}

Command line (prints one line per measure, ``--json`` for the dicts)::

    createdb -h 127.0.0.1 -U postgres -T bench_national h_c_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_c_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python scripts/bench_decisions.py [--issue 60] [--inline 10] [--render 24]

Each run consumes accepted dossiers of the copy (the national seed has about 220): make a fresh
copy when they run out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ISSUING_GOAL = 50.0  # decisions per second
RENDERING_GOAL = 1.7  # two workers against one
DEADLINE = float(os.environ.get("BENCH_DEADLINE", "900"))


# --------------------------------------------------------------------------------------------
# Public functions (child process; safe to call from any Python process)
# --------------------------------------------------------------------------------------------


def _child(mode: str, database_url: str, broker_url: str, **options: int) -> dict[str, Any]:
    """Run ``mode`` in a fresh interpreter configured for ``database_url``; its JSON result."""
    arguments = [PYTHON, str(Path(__file__).resolve()), "--child", mode, "--json"]
    for name, value in options.items():
        arguments += [f"--{name}", str(value)]
    result = subprocess.run(
        arguments,
        cwd=ROOT,
        env=_environment(database_url, broker_url),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench_decisions {mode} a échoué :\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _environment(database_url: str, broker_url: str) -> dict[str, str]:
    media = os.environ.get("BENCH_MEDIA_ROOT") or tempfile.mkdtemp(prefix="bench-decisions-")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.local",
        "DJANGO_DEBUG": "0",  # no query log growing during the run
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "REDIS_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PRIVATE_MEDIA_ROOT": media,
        "BENCH_MEDIA_ROOT": media,  # the workers write where the issuer reads
    }


def measure_issuing(
    database_url: str,
    broker_url: str = "redis://127.0.0.1:6379/3",
    *,
    count: int = 60,
    inline: int = 10,
) -> dict[str, Any]:
    """Issuing throughput on the national copy at ``database_url``: ``count`` decisions the
    current way (letter queued after commit), then ``inline`` the former way (letter rendered
    in the transaction). Keys: count, seconds, per_second, inline_count, inline_seconds,
    inline_per_second, goal_per_second. The render tasks published go to ``broker_url`` and
    are purged (nothing renders during the measure)."""
    return _child("issuing", database_url, broker_url, issue=count, inline=inline)


def measure_rendering(
    database_url: str, broker_url: str = "redis://127.0.0.1:6379/3", *, count: int = 24
) -> dict[str, Any]:
    """Rendering throughput of real Celery workers: ``count`` letters with one worker, ``count``
    others with two. Keys: count, one_worker_seconds, one_worker_per_second,
    two_workers_seconds, two_workers_per_second, ratio, goal_ratio. Issues ``2 * count``
    decisions on the copy first (their letters are what the workers render)."""
    return _child("rendering", database_url, broker_url, render=count)


# --------------------------------------------------------------------------------------------
# Inside the child process
# --------------------------------------------------------------------------------------------


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the copy may predate the latest migrations

    logging.getLogger("essms_portal.outbox").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.ERROR)


def _awaiting(count: int) -> list[Any]:
    from applications.models import Application
    from applications.workflow import Status

    rows = list(
        Application.objects.filter(status=Status.ACCEPTED, decision__isnull=True).order_by("pk")[
            :count
        ]
    )
    if len(rows) < count:
        raise SystemExit(
            f"Seulement {len(rows)} dossiers acceptés sans décision : recréez la copie "
            "(createdb -T bench_national)."
        )
    return rows


def _agent() -> Any:
    from essms_portal.accounts.models import Role, User

    return User.objects.filter(role=Role.CNSA_AGENT, is_active=True).order_by("pk").first()


def _purge() -> None:
    from essms_portal.celery import app

    app.control.purge()


def _issue(rows: list[Any], *, inline: bool) -> tuple[list[int], float]:
    from applications.decisions.services import decision_issue, decision_letter_render

    agent = _agent()
    ids = []
    start = time.perf_counter()
    for application in rows:
        if inline:
            # The former path: the letter rendered before the transaction ends (the counter
            # and the dossier stay locked meanwhile).
            from django.db import transaction

            with transaction.atomic():
                decision = decision_issue(application=application, by=agent)
                decision_letter_render(decision_id=decision.pk)
        else:
            decision = decision_issue(application=application, by=agent)
        ids.append(decision.pk)
    return ids, time.perf_counter() - start


def child_issuing(issue: int, inline: int) -> dict[str, Any]:
    _setup()
    _purge()
    warm = _awaiting(1)
    _issue(warm, inline=True)  # imports, templates, fonts: not part of the measure
    rows = _awaiting(issue + inline)
    _ids, seconds = _issue(rows[:issue], inline=False)
    _purge()  # the letters of this measure are not rendered (not measured here)
    _ids, inline_seconds = _issue(rows[issue:], inline=True) if inline else ([], 0.0)
    return {
        "count": issue,
        "seconds": round(seconds, 3),
        "per_second": round(issue / seconds, 1),
        "inline_count": inline,
        "inline_seconds": round(inline_seconds, 3),
        "inline_per_second": round(inline / inline_seconds, 2) if inline else None,
        "goal_per_second": ISSUING_GOAL,
    }


def _start_workers(count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(count):
        log = (log_dir / f"worker-{index}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "essms_portal",
                    "worker",
                    "--pool=solo",
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench-decisions-{os.getpid()}-{index}@%h",
                ],
                cwd=ROOT,
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return workers


def _wait_ready(workers: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker answers a ping (its start-up is not part of the measure)."""
    from essms_portal.celery import app

    names = {f"bench-decisions-{os.getpid()}-{i}" for i in range(len(workers))}
    deadline = time.monotonic() + DEADLINE
    while True:
        replies = app.control.ping(timeout=1.0) or []
        answered = {name.split("@", 1)[0] for reply in replies for name in reply}
        if names <= answered:
            return
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            raise SystemExit("Un worker ne démarre pas (voir les journaux des workers).")


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


def _render_with(ids: list[int], worker_count: int, log_dir: Path) -> float:
    """Seconds for ``worker_count`` ready workers to render the letters of ``ids``."""
    from applications.decisions.services import render_decision_letter
    from applications.models import Decision
    from essms_portal.outbox import enqueue

    workers = _start_workers(worker_count, log_dir)
    try:
        _wait_ready(workers)
        start = time.perf_counter()
        for pk in ids:
            enqueue(render_decision_letter, pk)
        deadline = time.monotonic() + DEADLINE
        pending = Decision.objects.filter(pk__in=ids, letter_status="pending")
        while pending.exists():
            if time.monotonic() > deadline:
                raise SystemExit("Délai dépassé : des lettres ne sont pas produites.")
            time.sleep(0.05)
        return time.perf_counter() - start
    finally:
        _stop(workers)


def child_rendering(render: int) -> dict[str, Any]:
    _setup()
    _purge()
    rows = _awaiting(2 * render)
    ids, _seconds = _issue(rows, inline=False)
    _purge()  # the after-commit messages: the measure queues the letters itself
    log_dir = Path(tempfile.mkdtemp(prefix="bench-decisions-workers-"))
    one = _render_with(ids[:render], 1, log_dir)
    two = _render_with(ids[render:], 2, log_dir)
    return {
        "count": render,
        "one_worker_seconds": round(one, 2),
        "one_worker_per_second": round(render / one, 2),
        "two_workers_seconds": round(two, 2),
        "two_workers_per_second": round(render / two, 2),
        "ratio": round(one / two, 2),
        "goal_ratio": RENDERING_GOAL,
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("issuing", "rendering"), help=argparse.SUPPRESS)
    parser.add_argument("--issue", type=int, default=60, help="décisions émises (mesure 1)")
    parser.add_argument("--inline", type=int, default=10, help="émissions à l'ancienne")
    parser.add_argument("--render", type=int, default=24, help="lettres par série (mesure 2)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-rendering", action="store_true")
    options = parser.parse_args()

    if options.child == "issuing":
        print(json.dumps(child_issuing(options.issue, options.inline)))
        return
    if options.child == "rendering":
        print(json.dumps(child_rendering(options.render)))
        return

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url or database_url.rstrip("/").endswith("/bench_national"):
        raise SystemExit("DATABASE_URL : une COPIE de bench_national (createdb -T), jamais elle.")
    broker_url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    issuing = measure_issuing(database_url, broker_url, count=options.issue, inline=options.inline)
    results: dict[str, Any] = {"issuing": issuing}
    if not options.skip_rendering:
        results["rendering"] = measure_rendering(database_url, broker_url, count=options.render)
    if options.json:
        print(json.dumps(results))
        return
    ok = "ok" if issuing["per_second"] >= ISSUING_GOAL else "SHORT"
    print(
        f"bench decisions_issuing project={issuing['per_second']}/s "
        f"baseline(inline letter)={issuing['inline_per_second']}/s goal>={ISSUING_GOAL}/s {ok}"
    )
    if "rendering" in results:
        rendering = results["rendering"]
        ok = "ok" if rendering["ratio"] >= RENDERING_GOAL else "SHORT"
        print(
            f"bench decision_letters_workers one={rendering['one_worker_per_second']}/s "
            f"two={rendering['two_workers_per_second']}/s ratio={rendering['ratio']:.2f} "
            f"goal={RENDERING_GOAL} {ok}"
        )


if __name__ == "__main__":
    main()
