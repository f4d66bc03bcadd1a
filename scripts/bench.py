"""``make bench``: the project against its baselines on the national dataset (issue #13).

For each measure, the project and its baseline run **interleaved in one process** (warm-up, then
``BENCH_REPEAT`` alternating pairs, the order swapped every pair) and the medians are compared.
One line per measure:

    bench <name> project=<median> baseline=<median> ratio=<x.xx> goal=<x.xx> <ok|SHORT>

and the same table, with the machine it ran on, goes to ``docs/performance.md``.

The dataset: ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/bench_national``) is
seeded when it holds no national campaign (``manage.py migrate``, ``seed_demo --scale national``,
``ANALYZE``). The measures then run on a **copy** of it (``CREATE DATABASE … TEMPLATE``, dropped
at the end): logging the agents in writes sessions and issuing decisions writes dossiers, and
neither may change the shared dataset between measures.

Measures delegated to the scripts that own them: ``scripts/bench_import.py`` (a child process,
its printed figures parsed), ``scripts/bench_decisions.py`` and ``scripts/bench_exports.py``
(imported when present; a row says « not measured » otherwise).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_national"
NATIONAL_DOMAIN = "national.demo.esms.fr"
SETTINGS = "scripts.bench_settings"
DOC = ROOT / "docs" / "performance.md"
CNSA_EMAIL = "cnsa@demo.esms.fr"
ADMIN_EMAIL = "admin@demo.esms.fr"
# Heavy measures (seconds per run) repeat at most this many times, so that the whole run stays
# within ten minutes on two cores.
HEAVY_REPEAT = 3
HEAVY_SECONDS = 2.0
TIMES = "\u00d7"
# docs/performance.md's section written by scripts/bench_load.py, kept when bench.py rewrites it.
LOAD_START, LOAD_END = (
    "<!-- load:start -->",
    "<!-- load:end -->",
)  # the multiplication sign of the table's ratios


# --- Results and their formatting (pure; tests/scripts/test_bench_format.py) -----------------


@dataclass(frozen=True)
class Result:
    """One measure: medians of the project and of its baseline, and the goal on their ratio.

    ``higher_is_better``: a throughput (the ratio must reach the goal) rather than a duration
    (the ratio must stay under it). Without a baseline the goal applies to ``project`` itself.
    ``project is None``: not measured, ``reason`` says why."""

    name: str
    title: str
    project: float | None
    baseline: float | None
    goal: float | None
    unit: str = "s"
    higher_is_better: bool = False
    baseline_title: str = ""
    explanation: str = ""
    notes: tuple[str, ...] = ()
    reason: str = ""
    goal_on_project: bool = False

    @property
    def ratio(self) -> float | None:
        if self.project is None or self.baseline is None or self.baseline <= 0:
            return None
        return self.project / self.baseline

    @property
    def compared(self) -> float | None:
        """What the goal applies to: the ratio, or the project's own figure (without baseline,
        or when the goal is absolute: ``goal_on_project``)."""
        return self.project if self.baseline is None or self.goal_on_project else self.ratio

    @property
    def met(self) -> bool | None:
        if self.compared is None or self.goal is None:
            return None
        if self.higher_is_better:
            return self.compared >= self.goal
        return self.compared <= self.goal

    @property
    def status(self) -> str:
        if self.project is None:
            return "not-measured"
        met = self.met
        if met is None:
            return "no-goal"
        return "ok" if met else "SHORT"


def format_value(value: float | None, unit: str) -> str:
    """``116.0ms``, ``19.60s``, ``2.0/s``; ``n/a`` when missing."""
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}s"
    return f"{value:.1f}{unit}"


def format_number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_line(result: Result) -> str:
    """The one line printed per measure."""
    line = (
        f"bench {result.name} project={format_value(result.project, result.unit)} "
        f"baseline={format_value(result.baseline, result.unit)} "
        f"ratio={format_number(result.ratio)} goal={format_number(result.goal)} {result.status}"
    )
    return f"{line} ({result.reason})" if result.reason else line


def format_goal(result: Result) -> str:
    """The goal in words for the table: ``≤ 1.00x`` (a ratio), ``≥ 50.0/s`` (a figure)."""
    if result.goal is None:
        return "—"
    sign = "≥" if result.higher_is_better else "≤"
    if result.baseline is None or result.goal_on_project:
        return f"{sign} {format_value(result.goal, result.unit)}"
    return f"{sign} {result.goal:.2f}{TIMES}"


def markdown_table(results: Iterable[Result]) -> str:
    rows = [
        "| Measure | Project | Baseline | Ratio | Goal | Status | Notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}{TIMES}"
        notes = "; ".join((*r.notes, r.reason) if r.reason else r.notes) or ""
        rows.append(
            f"| `{r.name}` {r.title} | {format_value(r.project, r.unit)} | "
            f"{format_value(r.baseline, r.unit)} | {ratio} | {format_goal(r)} | "
            f"{r.status} | {notes.replace('|', '/')} |"
        )
    return "\n".join(rows)


# --- Timing ------------------------------------------------------------------------------------


@dataclass
class Timings:
    project: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    @property
    def medians(self) -> tuple[float, float]:
        return statistics.median(self.project), statistics.median(self.baseline)


def interleaved(
    project: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeat: int,
    warmup: Callable[[], object] | None = None,
) -> Timings:
    """One warm-up of each (``warmup`` instead when given), then ``repeat`` pairs, the order
    swapped every pair so that neither side always runs on a cache the other just warmed. A
    pair whose warm-up takes over ``HEAVY_SECONDS`` is repeated at most ``HEAVY_REPEAT`` times:
    the run must stay within ten minutes."""
    started = time.perf_counter()
    if warmup is None:
        project()
        baseline()
    else:
        warmup()
    if time.perf_counter() - started > HEAVY_SECONDS:
        repeat = min(repeat, HEAVY_REPEAT)
    timings = Timings()
    for index in range(repeat):
        pair = [(project, timings.project), (baseline, timings.baseline)]
        for function, out in pair if index % 2 == 0 else reversed(pair):
            started = time.perf_counter()
            function()
            out.append(time.perf_counter() - started)
    return timings


# --- Databases ---------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def is_seeded(url: str) -> bool:
    """The national campaign is there (its applicant accounts are)."""
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            row = connection.execute(
                "SELECT to_regclass('public.accounts_user') IS NOT NULL"
            ).fetchone()
            if not row or not row[0]:
                return False
            found = connection.execute(
                "SELECT EXISTS (SELECT 1 FROM accounts_user WHERE email LIKE %s)",
                (f"%@{NATIONAL_DOMAIN}",),
            ).fetchone()
            return bool(found and found[0])
    except psycopg.OperationalError:
        return False


def child_env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": SETTINGS}


def seed(url: str) -> float:
    """Create (if need be), migrate and seed the national dataset; seconds taken."""
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    manage = [sys.executable, str(ROOT / "manage.py")]
    started = time.perf_counter()
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["createcachetable"],  # the settings' database cache (dashboard quotes, lockouts)
        ["seed_demo", "--scale", "national"],
    ):
        subprocess.run(
            [*manage, *command], env=child_env(url), cwd=ROOT, check=True, stdout=subprocess.DEVNULL
        )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")
        seconds = time.perf_counter() - started
        # Kept with the dataset, so that a later run reports how long its loading took.
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text)"
        )
        connection.execute(
            "INSERT INTO bench_meta VALUES ('seeded', %s) ON CONFLICT (key) DO UPDATE SET value = "
            "EXCLUDED.value",
            (f"{datetime.date.today():%d/%m/%Y}, {seconds:.0f} s",),
        )
    return seconds


def seeding_reference(url: str) -> str:
    """When the present dataset was loaded and how long it took (``bench_meta``), if known."""
    with psycopg.connect(url, autocommit=True) as connection:
        try:
            row = connection.execute("SELECT value FROM bench_meta WHERE key = 'seeded'").fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
    if row is None:
        return "its loading time was not recorded"
    day, seconds = row[0].split(", ")
    return (
        f"when it was loaded ({day}), `migrate` + `seed_demo --scale national` + `ANALYZE` took "
        f"{seconds}"
    )


def copy_prepare(copy_url: str) -> None:
    """Bring the run's copy up to the tree: migrations newer than the dataset, and the database
    cache table the settings use without Redis (dashboard quotes, login lockouts)."""
    for command in (["migrate", "--noinput", "-v0"], ["createcachetable"]):
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command],
            env=child_env(copy_url),
            cwd=ROOT,
            check=True,
        )


def copy_database(source_url: str, name: str, *, attempts: int = 20) -> str:
    """A copy of the dataset (``CREATE DATABASE … TEMPLATE``, statistics included). PostgreSQL
    refuses while another session is connected to the source: retried, then ``pg_dump | psql``
    (and ``ANALYZE``, a dump carrying no statistics)."""
    source = database_name(source_url)
    admin_url = with_database(source_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        for _ in range(attempts):
            try:
                connection.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(source)
                    )
                )
                return with_database(source_url, name)
            except psycopg.errors.ObjectInUse:
                time.sleep(3)
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    copy_url = with_database(source_url, name)
    dump = subprocess.Popen(["pg_dump", "--no-owner", source_url], stdout=subprocess.PIPE)
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", copy_url],
        stdin=dump.stdout,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if dump.wait() != 0:
        raise SystemExit("pg_dump a échoué")
    with psycopg.connect(copy_url, autocommit=True) as connection:
        connection.execute("ANALYZE")
    return copy_url


def drop_database(url: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database_name(url))
            )
        )


def machine(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "nproc": str(os.cpu_count()),
        "RAM": memory,
        "PostgreSQL": row[0] if row else "?",
        "Python": platform.python_version(),
        "CPU": _cpu_model(),
        "load average at start": load,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


# --- In-process measures (Django set up on the copy) -------------------------------------------


def page(client: Any, url: str) -> Callable[[], int]:
    """A GET through Django's test client, the whole body read (streamed or not). A page that is
    not a 200 is an error, never a fast measure."""

    def get() -> int:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} : {response.status_code}, pas 200")
        if response.streaming:
            return sum(len(chunk) for chunk in response.streaming_content)
        return len(response.content)

    return get


def query_count(function: Callable[[], object]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        function()
    return len(context.captured_queries)


def logged_in(email: str) -> Any:
    """A test client whose session is an agent's, MFA included: the demo agents are enrolled in
    TOTP, which is what ``AgentMFAMiddleware`` asks (``essms_portal.accounts.security``)."""
    from django.test import Client

    from essms_portal.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


def page_measures(repeat: int) -> list[Result]:
    from django.contrib import admin

    from applications.models import Application
    from applications.selectors import applications_reviewable_by
    from essms_portal.accounts.models import User

    # The queue shows 25 dossiers a page: the admin's changelist is cut the same way.
    # (setattr: a ClassVar to django-stubs; only this process's admin instance changes.)
    setattr(admin.site._registry[Application], "list_per_page", 25)  # noqa: B010
    cnsa, staff = logged_in(CNSA_EMAIL), logged_in(ADMIN_EMAIL)
    changelist = "/admin/applications/application/"
    finess = (
        applications_reviewable_by(user=User.objects.get(email=CNSA_EMAIL))
        .order_by("-pk")  # the last dossiers are the national seed's
        .values_list("grappe__porteur__finess", flat=True)
        .first()
    )
    cases = [
        (
            "queue_page",
            "Queue page, CNSA (every dossier)",
            "/instruction/",
            changelist,
            1.0,
            "Django admin changelist of Application, 25 rows",
        ),
        (
            "queue_search_text",
            "Queue text search `q=EHPAD`",
            "/instruction/?q=EHPAD",
            f"{changelist}?q=EHPAD",
            1.5,
            "admin changelist search `q=EHPAD`",
        ),
        (
            "queue_search_finess",
            f"Queue search of one FINESS (`{finess}`)",
            f"/instruction/?q={finess}",
            f"{changelist}?q={finess}",
            1.5,
            "admin changelist search of the same FINESS",
        ),
        (
            "dashboard",
            "Dashboard, CNSA",
            "/instruction/tableau-de-bord/",
            changelist,
            1.5,
            "Django admin changelist of Application, 25 rows",
        ),
    ]
    results = []
    for name, title, url, baseline_url, goal, baseline_title in cases:
        project, baseline = page(cnsa, url), page(staff, baseline_url)
        queries: list[int] = []

        def count_queries(
            project: Any = project, baseline: Any = baseline, queries: list[int] = queries
        ) -> None:
            queries.extend((query_count(project), query_count(baseline)))

        timings = interleaved(project, baseline, repeat=repeat, warmup=count_queries)
        results.append(
            Result(
                name=name,
                title=title,
                project=timings.medians[0],
                baseline=timings.medians[1],
                goal=goal,
                explanation=f"GET `{url}` as {CNSA_EMAIL} (test client, in process)",
                baseline_title=f"{baseline_title}: GET `{baseline_url}` as {ADMIN_EMAIL}",
                notes=(f"{queries[0]} queries (baseline {queries[1]})",),
            )
        )
    return results


def quote_measures(repeat: int) -> list[Result]:
    from django.db.models import QuerySet

    from applications.models import Application, Campaign
    from funding import services
    from funding.rules import compute_quote

    campaign = Campaign.objects.order_by("-year").first()
    if campaign is None:
        return [not_measured("quote_campaign", "Quote of every dossier", 5.0, "no campaign")]

    def dossiers() -> QuerySet[Application]:
        return (
            Application.objects.filter(call__campaign=campaign)
            .select_related("call__campaign", "grappe")
            .order_by("pk")
        )

    batch = hasattr(services, "quotes_for")
    if batch:

        def project() -> object:
            return services.quotes_for(applications=dossiers())  # type: ignore[attr-defined]

    else:

        def project() -> object:
            return [services.quote_for(application=a) for a in dossiers()]

    # The rules' inputs, built once outside the timing: the baseline is the pure computation.
    applications = list(dossiers())
    requests = [services.quote_request_for(application=a) for a in applications]
    parameters = services.campaign_parameters(campaign=campaign)
    referential = services.referential_from_db()

    def baseline() -> object:
        return [compute_quote(r, parameters=parameters, referential=referential) for r in requests]

    queries: list[int] = []
    timings = interleaved(
        project,
        baseline,
        repeat=min(repeat, HEAVY_REPEAT),
        warmup=lambda: queries.extend((query_count(project), query_count(baseline))),
    )
    median_project = timings.medians[0]
    title = f"Quote of every dossier of campaign {campaign.year} ({len(applications)} dossiers)"
    return [
        Result(
            name="quote_campaign",
            title=title,
            project=median_project,
            baseline=timings.medians[1],
            goal=5.0,
            baseline_title="`funding.rules.compute_quote` alone on the same inputs (requests, "
            "parameters and referential built beforehand)",
            explanation=(
                "`funding.services.quotes_for(applications=…)` (the batch service)"
                if batch
                else "`funding.services.quote_for` per dossier (no batch service in this tree)"
            )
            + ", the dossiers loaded inside the timing",
            notes=(f"{queries[0]} queries",),
        ),
        Result(
            name="quote_campaign_total",
            title=f"{title}, whole campaign",
            project=median_project,
            baseline=None,
            goal=2.0,
            explanation="the same median as `quote_campaign`, against the absolute goal",
        ),
    ]


def bare_table_html(snapshot: dict[str, Any]) -> str:
    """The annex's rows as a bare HTML table, no CSS: what WeasyPrint costs for the same data."""
    from html import escape

    cells = ("finess", "name", "category", "casf_item", "project", "amount")
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(line[c]))}</td>" for c in cells) + "</tr>"
        for line in snapshot["lines"]
    )
    return f"<table>{body}</table>"


def letter_measure(repeat: int) -> Result:
    from weasyprint import HTML

    from applications.decisions.letters import letter_pdf
    from scripts import bench_letters

    snapshot = bench_letters.synthetic_snapshot(20)
    # bench_letters' own bare table when it has one (same rows), else ours.
    bare = getattr(bench_letters, "bare_table_html", bare_table_html)(snapshot)
    timings = interleaved(
        lambda: letter_pdf(snapshot), lambda: HTML(string=bare).write_pdf(), repeat=repeat
    )
    return Result(
        name="letter",
        title="Decision letter with a 20-ESSMS annex",
        project=timings.medians[0],
        baseline=timings.medians[1],
        goal=1.3,
        baseline_title="WeasyPrint render of a bare table of the same 20 rows, no CSS "
        "(`HTML(string=<table>…</table>).write_pdf()`)",
        explanation="`letter_pdf(snapshot)` on `scripts/bench_letters.synthetic_snapshot(20)` "
        "(no database)",
    )


def module(name: str) -> Any | None:
    """``scripts.<name>`` when that file exists in the tree, else None."""
    if importlib.util.find_spec(f"scripts.{name}") is None:
        return None
    return importlib.import_module(f"scripts.{name}")


def not_measured(name: str, title: str, goal: float, reason: str, **kwargs: Any) -> Result:
    return Result(name, title, None, None, goal, reason=reason, **kwargs)


def export_measure(database_url: str, repeat: int) -> Result:
    """scripts/bench_exports.py's ``measure_essms_export`` (interleaved, medians)."""
    name, title = "export_essms_xlsx", "ESSMS export XLSX, CNSA (every dossier)"
    owner = module("bench_exports")
    function = getattr(owner, "measure_essms_export", None)
    if function is None:
        return not_measured(name, title, 5.0, "scripts/bench_exports.py absent or changed")
    figures = function(database_url, repeat=repeat)
    return Result(
        name=name,
        title=f"{title}, {figures['rows']:.0f} rows",
        project=figures["project"],
        baseline=figures["baseline"],
        goal=figures.get("goal", 5.0),
        baseline_title="`psql \\copy (<the same rows joined in SQL>) TO <file>` (CSV)",
        explanation="the `decisions:data_export` view (`essms`, `xlsx`) as a CNSA agent, read "
        "to the last byte (scripts/bench_exports.py)",
        notes=(f"first byte after {format_value(figures['first_byte'], 's')}",),
    )


def decision_measures(database_url: str, broker_url: str) -> list[Result]:
    """scripts/bench_decisions.py's two measures (each in a child process; they issue decisions,
    hence the run's copy, and purge the broker's queue, hence the run's own ``broker_url``)."""
    issue_name, issue_title = "decisions_issue", "Issuing decisions, one after the other"
    render_name = "decision_letters_workers"
    render_title = "Decision letters rendered by Celery workers, 2 workers against 1"
    owner = module("bench_decisions")
    if owner is None or not hasattr(owner, "measure_issuing") or not broker_url:
        reason = (
            "no CELERY_BROKER_URL or REDIS_URL given for the run"
            if owner is not None and not broker_url
            else "scripts/bench_decisions.py absent or changed"
        )
        return [
            not_measured(issue_name, issue_title, 50.0, reason, unit="/s", higher_is_better=True),
            not_measured(render_name, render_title, 1.7, reason, unit="/s", higher_is_better=True),
        ]
    issuing = owner.measure_issuing(database_url, broker_url, count=60, inline=10)
    results = [
        Result(
            name=issue_name,
            title=f"{issue_title} ({issuing['count']} decisions)",
            project=issuing["per_second"],
            baseline=issuing["inline_per_second"],
            goal=issuing.get("goal_per_second", 50.0),
            unit="/s",
            higher_is_better=True,
            goal_on_project=True,
            baseline_title=f"the former path, the letter rendered inside the issuing "
            f"transaction ({issuing['inline_count']} decisions)",
            explanation="`decision_issue` (transition, number, snapshot, letter queued after "
            "commit) on accepted dossiers of the run's copy (scripts/bench_decisions.py, child "
            "process); the goal is absolute (≥ 50 decisions/s)",
        )
    ]
    if not hasattr(owner, "measure_rendering"):
        return results
    rendering = owner.measure_rendering(database_url, broker_url, count=24)
    results.append(
        Result(
            name=render_name,
            title=f"{render_title} ({rendering['count']} letters each)",
            project=rendering["two_workers_per_second"],
            baseline=rendering["one_worker_per_second"],
            goal=rendering.get("goal_ratio", 1.7),
            unit="/s",
            higher_is_better=True,
            baseline_title="one worker",
            explanation="letters of issued decisions rendered by real Celery workers "
            "(`--pool=solo`) on Redis, letters per second with two workers against one; "
            "on two cores shared with the database, 1.7x needs them free",
        )
    )
    return results


# --- FINESS import: scripts/bench_import.py in a child process ----------------------------------

IMPORT_COPY = re.compile(r"COPY PostgreSQL[^:]*:\s*([\d.]+)\s*s")
IMPORT_RUN = re.compile(r"(Premier import|Ré-import)\s*:\s*([\d.]+)\s*s.*?pic mémoire\s+(\d+)")


def parse_import_output(output: str) -> tuple[float, list[tuple[str, float, int]]]:
    """COPY seconds and (label, seconds, peak MB) of each import from bench_import's output."""
    copy = IMPORT_COPY.search(output)
    runs = [(m[1], float(m[2]), int(m[3])) for m in IMPORT_RUN.finditer(output)]
    if copy is None or len(runs) != 2:
        raise ValueError("sortie de bench_import.py non reconnue")
    return float(copy[1]), runs


def import_measures(url: str, lines: int) -> list[Result]:
    command = [sys.executable, str(ROOT / "scripts" / "bench_import.py"), "--lines", str(lines)]
    process = subprocess.run(
        command,
        env={**os.environ, "DATABASE_URL": with_database(url, "postgres")},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    goals = {"Premier import": 3.0, "Ré-import": 2.0}
    names = {"Premier import": "finess_import_first", "Ré-import": "finess_reimport"}
    try:
        if process.returncode != 0:
            raise ValueError(f"code {process.returncode}: {process.stderr[-300:]}")
        copy, runs = parse_import_output(process.stdout)
    except ValueError as error:
        return [
            Result(n, label, None, None, goals[label], reason=f"bench_import.py: {error}")
            for label, n in names.items()
        ]
    return [
        Result(
            name=names[label],
            title=f"FINESS import, {'first' if label == 'Premier import' else 're-import'} "
            f"({lines} establishments)",
            project=seconds,
            baseline=copy,
            goal=goals[label],
            baseline_title="`psql \\copy` of the same file's `structureet` lines (median of 3)",
            explanation="`manage.py import_finess` in a child process on a fresh database "
            "(scripts/bench_import.py, one run each)",
            notes=(f"peak RSS {peak} MB (goal < 300 MB)",),
        )
        for label, seconds, peak in runs
    ]


# --- The run -----------------------------------------------------------------------------------


def write_markdown(
    results: list[Result], facts: dict[str, str], *, repeat: int, seeding: str, note: str
) -> None:
    machine_rows = "\n".join(f"| {k} | {v} |" for k, v in facts.items())
    explanations = "\n".join(
        f"- `{r.name}` — {r.explanation or r.title}"
        + (f"; baseline: {r.baseline_title}." if r.baseline_title else ".")
        for r in results
    )
    previous = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    start, end = previous.find(LOAD_START), previous.find(LOAD_END)
    load = previous[start : end + len(LOAD_END)] + "\n" if 0 <= start < end else ""
    DOC.write_text(
        f"""# Performance

Written by `make bench` (`scripts/bench.py`); do not edit by hand: run it again. The load test
is `make bench-load` (`scripts/bench_load.py`), reported at the end. Where each measure's time
goes, what was done about it and what would remove the rest: `docs/performance-analysis.md`
(written by hand).

Each measure runs the project and its baseline **interleaved in one process** on the same data
(one warm-up each, then {repeat} alternating pairs — at most {HEAVY_REPEAT} for the measures
taking seconds — the order swapped every pair); the figures are medians. Ratio = project ÷
baseline; « SHORT » means the goal is not reached.

Dataset: the national seed (`manage.py seed_demo --scale national` on PostgreSQL, then
`ANALYZE`), copied with `CREATE DATABASE … TEMPLATE` for the run so that nothing written by a
measure (sessions, decisions) reaches the shared dataset. Seeding: {seeding}.

## Results

{markdown_table(results)}

## Machine

| | |
|---|---|
{machine_rows}

{note}

## What is measured

{explanations}

Page measures go through Django's test client in process (`force_login`; the demo agents are
enrolled in TOTP, so the MFA middleware lets them through), settings `scripts.bench_settings`
(`essms_portal.settings.local` with `DEBUG` off and plain static storage). Query counts are
those of the warm-up request.

{load}""",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Banc d'essai national (issue #13).")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "7")))
    parser.add_argument(
        "--import-lines", type=int, default=int(os.environ.get("BENCH_IMPORT_LINES", "100000"))
    )
    parser.add_argument("--skip", action="append", default=[], help="pages, quote, letter, …")
    parser.add_argument("--no-doc", action="store_true", help="ne pas réécrire performance.md")
    parser.add_argument("--note", default=os.environ.get("BENCH_NOTE", ""))
    args = parser.parse_args(argv)
    # Stopped (timeout, Ctrl-C): the finally clauses still drop the copy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    url = args.database_url
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("DATABASE_URL : une base PostgreSQL (le jeu national y est chargé).")
    # bench_decisions purges the broker's queue: only a broker given for the run is used.
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL", "")
    if is_seeded(url):
        seeding = f"dataset already present in `{database_name(url)}`; {seeding_reference(url)}"
    else:
        print(f"Jeu national absent de {database_name(url)} : chargement…", flush=True)
        seconds = seed(url)
        seeding = f"`migrate` + `seed_demo --scale national` + `ANALYZE` took {seconds:.0f} s"
    facts = machine(url)
    copy_url = copy_database(url, f"{database_name(url)[:40]}_run_{os.getpid()}")
    results: list[Result] = []
    try:
        copy_prepare(copy_url)
        os.environ["DATABASE_URL"] = copy_url
        os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
        import django

        django.setup()
        steps: list[tuple[str, Callable[[], list[Result]]]] = [
            ("pages", lambda: page_measures(args.repeat)),
            ("quote", lambda: quote_measures(args.repeat)),
            ("letter", lambda: [letter_measure(args.repeat)]),
            (
                "exports",
                lambda: [export_measure(copy_url, min(args.repeat, HEAVY_REPEAT))],
            ),
            ("decisions", lambda: decision_measures(copy_url, broker)),
            ("import", lambda: import_measures(url, args.import_lines)),
        ]
        chosen = [(step, run) for step, run in steps if step not in args.skip]
        for index, (_step, run) in enumerate(chosen):
            for result in run():
                results.append(result)
                print(format_line(result), flush=True)
            # Written after every step: a run stopped half-way still leaves its figures.
            if not args.no_doc:
                pending = ", ".join(step for step, _run in chosen[index + 1 :])
                write_markdown(
                    results,
                    facts,
                    repeat=args.repeat,
                    seeding=seeding,
                    note=args.note
                    + (
                        f"\n\nRun in progress or stopped: not yet measured: {pending}."
                        if pending
                        else ""
                    ),
                )
    finally:
        if "django" in sys.modules and os.environ.get("DATABASE_URL") == copy_url:
            from django.db import connections

            connections.close_all()
        drop_database(copy_url)
    if not args.no_doc:
        print(f"Tableau écrit dans {DOC.relative_to(ROOT)}.")
    return 0


if __name__ == "__main__":
    if shutil.which("psql") is None:
        print("psql introuvable : le COPY de référence utilisera psycopg.", file=sys.stderr)
    raise SystemExit(main())
