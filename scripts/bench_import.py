"""``make bench-import``: time the FINESS import against PostgreSQL's own COPY of the same file.

1. writes a synthetic 100 000-establishment extract under ``var/`` (same seed every time);
2. creates a dedicated database ``bench_finess`` next to ``DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432/postgres``) and migrates it;
3. runs ``manage.py import_finess`` twice in a child process (first import, then re-import of
   the same file), measuring wall time and the child's peak memory (``ru_maxrss``);
4. loads the ``structureet`` lines of the same file with ``psql \\copy`` into a bare table of
   text columns (median of three runs) and prints each import's time as a multiple of it;
5. drops the database (``--keep`` keeps it).

It also notes Django's own start-up (``manage.py import_finess --help``, median of three), which
each measured child process pays before importing anything: the measure and its baseline are
unchanged, the note only tells how much of each time is the import itself.

Goal: each import within 3 x COPY and under 300 MB; the script prints whether that is met.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from scripts.generate_finess_extract import generate

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "bench_finess"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"
GOAL_RATIO = 3.0
GOAL_MEMORY_MB = 300


@dataclass(frozen=True)
class Run:
    """One child process: wall time, peak resident memory and what it printed."""

    seconds: float
    peak_mb: float
    output: str


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    """Drop and (unless ``drop_only``) create the bench database, from the server's own one."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(BENCH_DATABASE)
            )
        )
        if not drop_only:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))


def run_child(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run ``command``; wall time and the child's own ``ru_maxrss`` (kB on Linux)."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} a échoué ({process.returncode}) :\n{output}")
    return Run(seconds, usage.ru_maxrss / 1024, output)


def structure_lines(extract: Path, target: Path) -> int:
    """Copy the ``structureet`` lines to ``target`` (what COPY loads); their column count."""
    columns = 0
    with extract.open("rb") as source, target.open("wb") as out:
        for line in source:
            if line.startswith(b"structureet;"):
                if not columns:
                    columns = len(next(csv.reader([line.decode()], delimiter=";")))
                out.write(line)
    return columns


def time_copy(url: str, data: Path, columns: int, encoding: str) -> float:
    """Median wall time of ``psql \\copy`` of ``data`` into a bare table of text columns."""
    definition = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(f"c{i}")) for i in range(columns)
    )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_copy")
        connection.execute(sql.SQL("CREATE TABLE bench_copy ({})").format(definition))
    psql = shutil.which("psql")
    timings = []
    for _ in range(3):
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("TRUNCATE bench_copy")
        started = time.perf_counter()
        if psql:
            subprocess.run(
                [psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                 f"\\copy bench_copy from '{data}' with (format csv, delimiter ';', "
                 f"encoding '{encoding}')"],
                check=True,
            )  # fmt: skip
        else:  # the same COPY through psycopg, 1 MB at a time
            with (
                psycopg.connect(url) as connection,
                connection.cursor().copy(
                    "COPY bench_copy FROM STDIN WITH (FORMAT csv, DELIMITER ';')"
                ) as copy,
                data.open("rb") as source,
            ):
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Banc d'essai de l'import FINESS.")
    parser.add_argument("--lines", type=int, default=100_000, help="établissements à générer")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keep", action="store_true", help="garder la base bench_finess")
    args = parser.parse_args(argv)

    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    extract = var / f"bench-finess-{args.lines}.csv"
    made = generate(lines=args.lines, out=extract, encoding="utf-8", seed=2024)
    print(
        f"Extrait : {extract.relative_to(ROOT)} — {made.establishments} établissements, "
        f"{made.geolocations} géolocalisations, {made.size / 1e6:.1f} Mo."
    )

    bench_url = with_database(args.database_url, BENCH_DATABASE)
    recreate_database(args.database_url)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "essms_portal.settings.local",
        "DJANGO_DEBUG": "false",  # DEBUG keeps every query in memory
    }
    python, manage = sys.executable, str(ROOT / "manage.py")
    try:
        run_child([python, manage, "migrate", "--noinput", "-v0"], env, var / "bench-migrate.log")
        # The import renews the dashboard cache's version on commit: without the cache's table
        # (the local settings' database cache) that is a logged error inside the measure.
        run_child([python, manage, "createcachetable"], env, var / "bench-cachetable.log")
        runs = [
            run_child(
                [python, manage, "import_finess", str(extract), "--quiet"],
                env,
                var / f"bench-import-{index}.log",
            )
            for index in (1, 2)
        ]
        startup = statistics.median(
            run_child(
                [python, manage, "import_finess", "--help"], env, var / "bench-help.log"
            ).seconds
            for _ in range(3)
        )
        data = var / "bench-structureet.csv"
        copy_seconds = time_copy(bench_url, data, structure_lines(extract, data), "UTF8")
        data.unlink()
    finally:
        if not args.keep:
            recreate_database(args.database_url, drop_only=True)

    print(
        f"COPY PostgreSQL (psql \\copy des lignes structureet, médiane de 3) : {copy_seconds:.2f} s"
    )
    met = True
    for label, run in zip(("Premier import", "Ré-import     "), runs, strict=True):
        ratio = run.seconds / copy_seconds
        met = met and ratio <= GOAL_RATIO and run.peak_mb < GOAL_MEMORY_MB
        counts = next(
            (line for line in run.output.splitlines() if line.startswith("Établissements")), ""
        )
        print(
            f"{label} : {run.seconds:6.2f} s = {ratio:5.1f} x COPY, pic mémoire "
            f"{run.peak_mb:5.0f} Mo — {counts}"
        )
    own = ", ".join(
        f"{label} ≈ {run.seconds - startup:.2f} s = {(run.seconds - startup) / copy_seconds:.1f} x"
        for label, run in zip(("premier import", "ré-import"), runs, strict=True)
    )
    print(
        f"Note : démarrage de Django (import_finess --help, médiane de 3) {startup:.2f} s ; "
        f"sans lui, {own}."
    )
    print(
        f"Objectif (≤ {GOAL_RATIO:g} x COPY et < {GOAL_MEMORY_MB} Mo) : "
        f"{'atteint' if met else 'NON atteint'}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
