"""Benchmark of the decision letters (not a test).

1. Median render time of one letter with a 20-ESSMS annex, next to a bare WeasyPrint table of the
   same rows without CSS (the baseline of issue #13), interleaved; ``measure_letter`` returns
   them as a dict for the global harness (no database: the letter renders from a snapshot).
2. A batch of decisions on a scratch PostgreSQL database: issuing throughput (NOTIFY
   transition + number + snapshot + PDF + insert) and batch-export throughput (ZIP of the PDFs
   plus manifest), with the export's peak Python memory for a quarter batch and the full batch
   (it should stay flat).

Usage (PostgreSQL at DATABASE_URL; creates and drops the database ``test_bench_letters``):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python scripts/bench_letters.py [--batch 200] [--renders 15] [--no-db]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "essms_portal.settings.test")


def synthetic_snapshot(essms: int, number: str = "2023-11-0042") -> dict[str, Any]:
    """A realistic snapshot with ``essms`` ESSMS lines and the three supports."""
    lines: list[dict[str, Any]] = [
        {
            "finess": f"75{100000 + i:06d}{i % 10}",
            "name": f"EHPAD Résidence des Tilleuls n° {i}",
            "category": "500 — Établissement d'hébergement pour personnes âgées dépendantes",
            "casf_item": "6°",
            "project": "Acquisition d'une solution DUI",
            "amount": 25_000 if i else 20_000,
            "computed": 25_000,
            "reason": "" if i else "Deux unités de l'établissement sont déjà équipées.",
        }
        for i in range(essms)
    ]
    supports: list[dict[str, Any]] = [
        {
            "label": "Matériel et infrastructure — Association Les Tilleuls",
            "amount": 20_000,
            "computed": 20_000,
            "reason": "",
        },
        {"label": "Passation du marché", "amount": 15_000, "computed": 15_000, "reason": ""},
        {
            "label": "Pilotage",
            "amount": 60_000,
            "computed": 80_000,
            "reason": "Le pilotage est partagé avec une autre grappe du même porteur.",
        },
    ]
    total = sum(line["amount"] for line in lines) + sum(s["amount"] for s in supports)
    return {
        "format": 2,
        "number": number,
        "issued_on": "2023-06-01",
        "outcome": "accepted",
        "authority": {
            "scope": "regional",
            "name": "Agence régionale de santé Île-de-France",
            "signatory": {
                "name": "Dominique Martin",
                "title": "Directrice de l'autonomie",
                "city": "Saint-Denis",
                "delegation": "Pour le directeur général de l'agence régionale de santé "
                "Île-de-France et par délégation",
            },
        },
        "funding_source": "Fonds d'intervention régional (FIR) — programme ESMS numérique",
        "campaign": {
            "year": 2023,
            "name": "Campagne 2023",
            "instruction_reference": "Instruction DGCS/DNS/CNSA/2023/13 du 16 janvier 2023",
        },
        "call": {"name": "Appel à projets 2023", "scope": "regional", "region": "Île-de-France"},
        "application": {"id": 1, "submitted_on": "15/03/2023"},
        "porteur": {"name": "Association Les Tilleuls", "finess": "750500016", "siren": ""},
        "grappe": {"name": "Grappe du Val-de-Marne", "essms_count": essms},
        "lines": lines,
        "supports": supports,
        "total": total,
        "tranches": [
            {"label": "Première tranche", "amount": total // 2},
            {"label": "Seconde tranche", "amount": total - total // 2},
        ],
        "second_tranche_conditions": ["cibles d'usage atteintes"],
        "motivation": "",
        "legal_references": ["le code de l'action sociale et des familles, article L312-1, I"],
        "verification_page": "https://esms-numerique.example.gouv.fr/verifier/",
        "verification_code": "K7QX-M2P9-DA",
        "verification_url": "https://esms-numerique.example.gouv.fr/verifier/"
        f"?numero={number}&code=K7QX-M2P9-DA",
    }


def median_seconds(function: Any, runs: int) -> float:
    function()  # warm-up: fonts, templates, imports
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bare_table_html(snapshot: dict[str, Any]) -> str:
    """The baseline of issue #13: the annex's rows as a bare HTML table, no CSS."""
    from django.utils.html import escape

    rows = "".join(
        f"<tr><td>{line['finess']}</td><td>{escape(line['name'])}</td>"
        f"<td>{escape(line['category'])}</td><td>{escape(line['project'])}</td>"
        f"<td>{line['amount']}</td></tr>"
        for line in snapshot["lines"]
    )
    return f"<table>{rows}</table>"


LETTER_GOAL = 1.3  # a letter against a bare table of the same rows


def measure_letter(runs: int = 15, essms: int = 20) -> dict[str, Any]:
    """Median render time of a letter with an ``essms``-line annex and of a bare WeasyPrint
    table of the same rows (no CSS), measured interleaved (one of each per round, so a busy
    machine slows both alike). Needs Django set up (no database). Keys: letter_ms, bare_ms,
    ratio, goal, pages."""
    from pypdf import PdfReader
    from weasyprint import HTML

    from applications.decisions.letters import letter_pdf

    snapshot = synthetic_snapshot(essms)
    bare_html = bare_table_html(snapshot)
    letter_pdf(snapshot), HTML(string=bare_html).write_pdf()  # warm-up: fonts, templates
    letters, bares = [], []
    for _ in range(runs):
        start = time.perf_counter()
        letter_pdf(snapshot)
        letters.append(time.perf_counter() - start)
        start = time.perf_counter()
        HTML(string=bare_html).write_pdf()
        bares.append(time.perf_counter() - start)
    letter, bare = statistics.median(letters), statistics.median(bares)
    return {
        "letter_ms": round(letter * 1000, 1),
        "bare_ms": round(bare * 1000, 1),
        "ratio": round(letter / bare, 2),
        "goal": LETTER_GOAL,
        "pages": len(PdfReader(io.BytesIO(letter_pdf(snapshot))).pages),
    }


def bench_rendering(runs: int) -> None:
    result = measure_letter(runs)
    ok = "ok" if result["ratio"] <= LETTER_GOAL else "SHORT"
    print(
        f"bench letter_20_essms project={result['letter_ms']}ms "
        f"baseline(bare table)={result['bare_ms']}ms ratio={result['ratio']:.2f} "
        f"goal={LETTER_GOAL} {ok} ({result['pages']} pages)"
    )


def bench_batch(size: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = "test_bench_letters"
    # Letters and archives go to a throw-away directory, not to the test storage.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tempfile.mkdtemp(prefix="bench-letters-")},
        },
    }
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _bench_batch(size)
    finally:
        connection.creation.destroy_test_db("test_bench_letters", verbosity=0)


def _bench_batch(size: int) -> None:
    from applications.decisions.services import decision_export_build, decision_issue
    from applications.models import Decision, DecisionExport
    from tests.applications.helpers import cnsa_agent, decided_dossier, roomy_call

    call = roomy_call()
    start = time.perf_counter()
    dossiers = [decided_dossier(call=call) for _ in range(size)]
    print(
        f"Préparation de {size} dossiers acceptés (15 ESSMS) : {time.perf_counter() - start:.1f} s"
    )

    agent = cnsa_agent()
    start = time.perf_counter()
    for application in dossiers:
        decision_issue(application=application, by=agent)
    elapsed = time.perf_counter() - start
    print(
        f"Émission de {size} décisions (numéro, lettre après commit, Celery eager) : "
        f"{elapsed:.1f} s, {size / elapsed:.1f} décisions/s"
    )

    for count in (max(1, size // 4), size):
        job = DecisionExport.objects.create(requested_by=agent, total=count)
        job.decisions.add(*Decision.objects.order_by("number")[:count])
        tracemalloc.start()
        start = time.perf_counter()
        decision_export_build(job_id=job.pk)
        elapsed = time.perf_counter() - start
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        job.refresh_from_db()
        print(
            f"Export ZIP de {count:4d} décisions : {elapsed:.2f} s, {count / elapsed:.0f} "
            f"décisions/s, archive {job.archive_size / 1e6:.1f} Mo, pic mémoire Python "
            f"{peak / 1e6:.1f} Mo"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--renders", type=int, default=15)
    parser.add_argument("--no-db", action="store_true", help="rendering only")
    options = parser.parse_args()

    import django

    django.setup()
    bench_rendering(options.renders)
    if not options.no_db:
        bench_batch(options.batch)


if __name__ == "__main__":
    main()
