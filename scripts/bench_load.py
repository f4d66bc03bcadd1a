"""``make bench-load``: locust against gunicorn (3 workers, loopback only) on the national dataset.

1. a copy of the national dataset (``DATABASE_URL``, seeded when absent; see scripts/bench.py),
   migrated, with logged-in sessions made in it: CNSA and ARS agents (MFA-enrolled, as the
   demo agents are) and applicants (porteurs of the national grappes);
2. gunicorn ``-w 3`` on ``127.0.0.1`` and a free port, settings ``scripts.bench_settings``;
3. locust, headless, ``--users`` (30) for ``--duration`` seconds (60): first the mixed load
   (queue pages and searches, review pages, applicant dossier pages, dashboard — the
   ``PortalUser`` of scripts/locustfile.py), then the trivial view ``/healthz/`` (the baseline:
   the same stack doing nothing);
4. prints req/s, p95 and errors of both and the ratio, as ``bench`` lines, and writes them to
   the « Load test » section of docs/performance.md; gunicorn stopped, the copy dropped.

During each run it also reads, from ``/proc``, the CPU time that gunicorn (its process group),
PostgreSQL (every ``postgres`` process) and locust used: CPU per request, where it goes, and
how close the run came to using the machine's cores. A closed loop of users without think
time is bounded by that: it serves at most ``cores / CPU per request`` requests a second, and
its median latency is ``users / req/s`` (Little's law).

Goal: 0 errors, p95 < 500 ms, at least 40 % of the trivial view's req/s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench import (  # noqa: E402
    DEFAULT_URL,
    DOC,
    LOAD_END,
    LOAD_START,
    SETTINGS,
    Result,
    child_env,
    copy_database,
    copy_prepare,
    database_name,
    drop_database,
    format_line,
    is_seeded,
    markdown_table,
    seed,
)

GOAL_SHARE = 0.40
GOAL_P95 = 0.5
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Load:
    """Locust's aggregated figures of one run."""

    requests: int
    failures: int
    rps: float
    p95: float  # seconds
    median: float  # seconds


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used during one run, by who used them."""

    gunicorn: float
    postgres: float
    locust: float
    seconds: float  # wall time of the run

    @property
    def server(self) -> float:
        return self.gunicorn + self.postgres

    def per_request(self, requests: int) -> str:
        """« CPU per request: gunicorn …, PostgreSQL …; locust …; cores busy … »."""
        if not requests or not self.seconds:
            return "CPU not measured"
        ms = 1000 / requests
        busy = (self.server + self.locust) / self.seconds
        return (
            f"CPU per request {self.server * ms:.1f} ms (gunicorn {self.gunicorn * ms:.1f}, "
            f"PostgreSQL {self.postgres * ms:.1f}), locust {self.locust * ms:.1f} ms; "
            f"{busy:.2f} of {os.cpu_count()} cores busy"
        )


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu() -> dict[int, tuple[str, int, float]]:
    """Every process's command name, process group and CPU seconds (user + system), from
    ``/proc``; empty where there is no ``/proc``. Processes gone meanwhile are skipped."""
    found: dict[int, tuple[str, int, float]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp …": comm may hold spaces, so split after its ")".
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (
            name,
            int(fields[2]),
            (int(fields[11]) + int(fields[12])) / _TICKS,
        )
    return found


def cpu_used(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    *,
    gunicorn_group: int,
) -> tuple[float, float]:
    """CPU seconds used between two ``_process_cpu`` readings by gunicorn's process group and by
    PostgreSQL's processes (a process born meanwhile counts whole; one that died meanwhile is
    missed: with persistent connections, backends live through a run)."""
    gunicorn = postgres = 0.0
    for pid, (name, group, seconds) in after.items():
        used = seconds - before[pid][2] if pid in before and before[pid][0] == name else seconds
        if group == gunicorn_group:
            gunicorn += used
        elif name == "postgres" or name.startswith("postgres:"):
            postgres += used
    return gunicorn, postgres


def _load(row: dict[str, str]) -> Load:
    return Load(
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        rps=float(row["Requests/s"]),
        p95=float(row["95%"]) / 1000,
        median=float(row["50%"]) / 1000,
    )


def parse_pages(path: Path) -> dict[str, Load]:
    """Every row of locust's ``<prefix>_stats.csv`` by name (``Aggregated`` included)."""
    with path.open(encoding="utf-8") as source:
        return {row["Name"]: _load(row) for row in csv.DictReader(source)}


def parse_stats(path: Path) -> Load:
    """The ``Aggregated`` row of locust's ``<prefix>_stats.csv``."""
    pages = parse_pages(path)
    if "Aggregated" not in pages:
        raise ValueError(f"{path}: pas de ligne Aggregated")
    return pages["Aggregated"]


def pages_table(pages: dict[str, Load]) -> str:
    """Per page of the mixed load: requests, req/s, median, p95, errors."""
    rows = ["| Page | Requests | req/s | Median | p95 | Errors |", "|---|---|---|---|---|---|"]
    rows += [
        f"| {name} | {p.requests} | {p.rps:.1f} | {p.median * 1000:.0f} ms | "
        f"{p.p95 * 1000:.0f} ms | {p.failures} |"
        for name, p in sorted(pages.items(), key=lambda item: item[0] == "Aggregated")
    ]
    return "\n".join(rows)


def load_results(
    mixed: Load,
    trivial: Load,
    *,
    users: int,
    duration: int,
    cpu: tuple[Cpu, Cpu] | None = None,
) -> list[Result]:
    """The three goals: throughput share, p95, errors (with the CPU of each run when given)."""
    setup = f"{users} users, {duration} s, gunicorn 3 workers"
    cpu_notes = (
        (
            cpu[0].per_request(mixed.requests),
            f"baseline {cpu[1].per_request(trivial.requests)}",
        )
        if cpu
        else ()
    )
    return [
        Result(
            name="load_throughput",
            title=f"Mixed load, req/s ({setup})",
            project=mixed.rps,
            baseline=trivial.rps,
            goal=GOAL_SHARE,
            unit="/s",
            higher_is_better=True,
            baseline_title="the trivial view `/healthz/` on the same stack",
            notes=(
                f"{mixed.requests} requests (baseline {trivial.requests})",
                f"median {mixed.median * 1000:.0f} ms (baseline {trivial.median * 1000:.0f} ms)",
                *cpu_notes,
            ),
        ),
        Result(
            name="load_p95",
            title="Mixed load, 95th percentile",
            project=mixed.p95,
            baseline=None,
            goal=GOAL_P95,
            notes=(f"trivial view p95 {trivial.p95 * 1000:.0f} ms",),
        ),
        Result(
            name="load_errors",
            title="Mixed load, errors",
            project=float(mixed.failures),
            baseline=None,
            goal=0.0,
            unit="",
            notes=(f"trivial view {trivial.failures} errors",),
        ),
    ]


def make_plan(path: Path, *, reviews: int = 60) -> int:
    """Logged-in sessions and the pages of each, in the copy Django is set up on; how many."""
    from django.conf import settings
    from django.test import Client

    from applications.models import Application
    from applications.selectors import applications_reviewable_by, applications_visible_to
    from essms_portal.accounts.models import Role, User

    rng = random.Random(2024)  # a sample, not a secret
    domain = "national.demo.esms.fr"
    ars = User.objects.filter(role=Role.ARS_INSTRUCTEUR, email__endswith=f"@{domain}")
    agents = [User.objects.get(email="cnsa@demo.esms.fr"), *ars.order_by("email")[:9]]
    applicants = list(
        User.objects.filter(
            role=Role.GESTIONNAIRE,
            email__startswith="porteur-",
            email__endswith=f"@{domain}",
            pk__in=Application.objects.values("grappe__porteur__members__user"),
        ).order_by("email")[:10]
    )
    sessions: list[dict[str, Any]] = []
    for user in agents:
        scope = list(applications_reviewable_by(user=user).values_list("pk", flat=True))
        pages = [
            {"path": "/instruction/", "name": "queue", "weight": 3},
            {"path": "/instruction/?page=2", "name": "queue page 2", "weight": 1},
            {"path": "/instruction/?q=EHPAD", "name": "queue search", "weight": 1},
            {"path": "/instruction/tableau-de-bord/", "name": "dashboard", "weight": 2},
        ]
        # The review pages share one weight (3), whatever their number.
        sample = rng.sample(scope, min(reviews, len(scope)))
        pages += [
            {"path": f"/instruction/dossiers/{pk}/", "name": "review", "weight": 3 / len(sample)}
            for pk in sample
        ]
        sessions.append({"email": user.email, "cookie": _session(Client, user), "pages": pages})
    for user in applicants:
        dossiers = list(applications_visible_to(user=user).values_list("pk", flat=True))
        if not dossiers:
            continue
        pages = [
            {"path": f"/espace/dossiers/{pk}/", "name": "dossier", "weight": 4 / len(dossiers)}
            for pk in dossiers
        ] + [{"path": "/espace/", "name": "mon espace", "weight": 1}]
        sessions.append({"email": user.email, "cookie": _session(Client, user), "pages": pages})
    path.write_text(
        json.dumps({"cookie_name": settings.SESSION_COOKIE_NAME, "sessions": sessions}),
        encoding="utf-8",
    )
    return len(sessions)


def _session(client_class: Any, user: Any) -> str:
    from django.conf import settings

    client = client_class()
    client.force_login(user)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn s'est arrêté ({process.returncode})")
        try:
            with urllib.request.urlopen(f"{base}/healthz/", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn ne répond pas sur /healthz/")


def run_locust(
    user_class: str,
    *,
    base: str,
    users: int,
    duration: int,
    plan: Path,
    out: Path,
    gunicorn_group: int,
) -> tuple[dict[str, Load], Cpu]:
    """One headless locust run of ``user_class``: its figures by page (its output in a log) and
    the CPU that gunicorn, PostgreSQL and locust used meanwhile."""
    prefix = out / user_class
    command = [
        str(VENV_BIN / "locust"),
        *("-f", str(ROOT / "scripts" / "locustfile.py"), "--headless", "--host", base),
        *("--users", str(users), "--spawn-rate", str(users), "--run-time", f"{duration}s"),
        *("--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"),
        *("--exit-code-on-error", "0", user_class),
    ]
    with (out / f"{user_class}.log").open("w+") as log:
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        before, started = _process_cpu(), time.monotonic()
        process = subprocess.run(
            command,
            env={**os.environ, "BENCH_LOAD_PLAN": str(plan)},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wall, after = time.monotonic() - started, _process_cpu()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if process.returncode != 0:
            log.seek(0)
            raise SystemExit(f"locust a échoué ({process.returncode}) :\n{log.read()[-2000:]}")
    gunicorn, postgres = cpu_used(before, after, gunicorn_group=gunicorn_group)
    # locust is the only child reaped during the run (gunicorn is reaped at the end).
    locust = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return parse_pages(Path(f"{prefix}_stats.csv")), Cpu(gunicorn, postgres, locust, wall)


def write_section(results: list[Result], pages: str, *, when: str, note: str) -> None:
    """Replace (or add) the « Load test » section of docs/performance.md."""
    section = (
        f"{LOAD_START}\n## Load test (`make bench-load`, {when})\n\n"
        "locust (headless, FastHttpUser, no think time) against gunicorn `-w 3` on "
        "127.0.0.1, settings `scripts.bench_settings`, on a copy of the national dataset. "
        "Mixed load: CNSA and ARS agents (queue, queue page 2, queue search, dashboard, review "
        "pages of their scope) and applicants (their dossier pages, « Mon espace »), each "
        "locust user one logged-in session; baseline: `/healthz/` (one `SELECT 1`) through the "
        "same middleware. Anything but a 200 counts as an error. locust runs on the same "
        "machine; the notes give the CPU that gunicorn, PostgreSQL and locust used per "
        "request, read from /proc during each run.\n\n"
        f"{markdown_table(results)}\n\nPer page of the mixed load:\n\n{pages}\n\n{note}\n{LOAD_END}"
    ).rstrip()
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if LOAD_START in text and LOAD_END in text:
        head, rest = text.split(LOAD_START, 1)
        text = head + section + rest.split(LOAD_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Test de charge (issue #13).")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_LOAD_USERS", "30")))
    parser.add_argument(
        "--duration", type=int, default=int(os.environ.get("BENCH_LOAD_DURATION", "60"))
    )
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--note", default=os.environ.get("BENCH_NOTE", ""))
    args = parser.parse_args(argv)
    # Stopped (timeout, Ctrl-C): the finally clauses still drop the copy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    url = args.database_url
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("DATABASE_URL : une base PostgreSQL (le jeu national y est chargé).")
    if not is_seeded(url):
        print(f"Jeu national absent de {database_name(url)} : chargement…", flush=True)
        seed(url)
    copy_url = copy_database(url, f"{database_name(url)[:40]}_load_{os.getpid()}")
    gunicorn: subprocess.Popen[bytes] | None = None
    try:
        copy_prepare(copy_url)
        os.environ["DATABASE_URL"] = copy_url
        os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
        import django

        django.setup()
        from django.db import connections

        with tempfile.TemporaryDirectory(prefix="bench-load-") as workdir:
            out = Path(workdir)
            plan = out / "plan.json"
            sessions = make_plan(plan)
            connections.close_all()
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            gunicorn = subprocess.Popen(
                [
                    str(VENV_BIN / "gunicorn"),
                    "essms_portal.wsgi:application",
                    "--workers",
                    "3",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                ],
                env=child_env(copy_url),
                cwd=ROOT,
                start_new_session=True,
            )
            wait_until_up(base, gunicorn)
            print(
                f"gunicorn sur {base}, {sessions} sessions, {args.users} utilisateurs locust, "
                f"{args.duration} s par charge.",
                flush=True,
            )

            def run(user_class: str) -> tuple[dict[str, Load], Cpu]:
                return run_locust(
                    user_class,
                    base=base,
                    users=args.users,
                    duration=args.duration,
                    plan=plan,
                    out=out,
                    gunicorn_group=gunicorn.pid,  # start_new_session: its own group
                )

            pages, mixed_cpu = run("PortalUser")
            trivial_pages, trivial_cpu = run("TrivialUser")
            trivial, mixed = trivial_pages["Aggregated"], pages["Aggregated"]
        for label, load in (*sorted(pages.items()), ("trivial", trivial)):
            print(
                f"load {label}: {load.rps:.1f} req/s, p95 {load.p95 * 1000:.0f} ms, "
                f"median {load.median * 1000:.0f} ms, {load.failures} errors / {load.requests}"
            )
        print(f"cpu mixed: {mixed_cpu.per_request(mixed.requests)}")
        print(f"cpu trivial: {trivial_cpu.per_request(trivial.requests)}")
        results = load_results(
            mixed,
            trivial,
            users=args.users,
            duration=args.duration,
            cpu=(mixed_cpu, trivial_cpu),
        )
        for result in results:
            print(format_line(result))
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        if "django" in sys.modules and os.environ.get("DATABASE_URL") == copy_url:
            from django.db import connections

            connections.close_all()
        drop_database(copy_url)
    if not args.no_doc:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_section(results, pages_table(pages), when=when, note=args.note)
        print(f"Section « Load test » écrite dans {DOC.relative_to(ROOT)}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
