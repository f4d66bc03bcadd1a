"""Time the ESSMS data export (XLSX) against ``psql \\copy`` of the same rows.

    DATABASE_URL=postgres://…/<copy of the national seed> .venv/bin/python scripts/bench_exports.py

For a harness (``make bench``): ``measure_essms_export(database_url, repeat=3) -> dict`` with
the keys ``rows`` (data rows exported), ``project`` (median seconds of the whole export, view
included, until the last byte), ``first_byte`` (median seconds until the response's first
chunk), ``baseline`` (median seconds of ``psql \\copy (<the same rows>) TO …``), ``ratio``
(``project / baseline``) and ``goal`` (5.0). Project and baseline runs are interleaved. The
export is the one a CNSA agent gets (every dossier), through the real view
(``decisions:data_export``, ``essms``/``xlsx``) called with a ``RequestFactory`` request. The
function configures Django on ``database_url`` when Django is not set up yet; otherwise it uses
the configured ``default`` database, which must be the same. Reads only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_RATIO = 5.0

# The export's rows, set-wise, as psql would dump them: the baseline is the database's own cost
# of reading and writing out the same joined rows (each dossier's grappe ESSMS, with amounts).
BASELINE_SQL = """
SELECT a.id, c.name, r.name, g.name, a.status, s.finess, s.name, o.name,
       fc.code, fc.label, fc.casf_item_id, m.project_type, m.eligible_share,
       pa.computed, pa.proposed
FROM applications_application a
JOIN applications_call c ON c.id = a.call_id
LEFT JOIN grappes_region r ON r.code = c.region_id
JOIN grappes_grappe g ON g.id = a.grappe_id
JOIN grappes_grappemembership m ON m.grappe_id = g.id
JOIN grappes_structure s ON s.id = m.structure_id
LEFT JOIN grappes_organisation o ON o.id = s.organisation_id
LEFT JOIN grappes_finesscategory fc ON fc.code = s.category_id
LEFT JOIN applications_proposedamount pa
       ON pa.application_id = a.id AND pa.line = 'structure:' || s.finess
WHERE a.id IN ({queue})
ORDER BY a.id, s.finess
"""


def _setup_django(database_url: str) -> None:
    """Configure Django on ``database_url`` unless it already is (then it must be the same)."""
    from django.conf import settings

    if not settings.configured:
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "essms_portal.settings.local")
        os.environ.setdefault("DJANGO_DEBUG", "false")  # DEBUG keeps every query in memory
    import django

    django.setup()


def _time_export(user: Any) -> tuple[float, float, int]:
    """(seconds to the first chunk, seconds to the last byte, bytes) of one XLSX export."""
    from django.test import RequestFactory
    from django.urls import reverse

    from applications.decisions.views import data_export

    url = reverse("decisions:data_export", kwargs={"dataset": "essms", "fmt": "xlsx"})
    request = RequestFactory().get(url)
    request.user = user
    started = time.perf_counter()
    response = data_export(request, dataset="essms", fmt="xlsx")
    assert response.status_code == 200, response.status_code
    first = None
    size = 0
    for chunk in response:  # type: ignore[attr-defined]
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    total = time.perf_counter() - started
    response.close()
    return first or total, total, size


def _time_copy(database_url: str, baseline_sql: str, target: Path) -> float:
    """Wall time of ``psql \\copy (baseline_sql) TO target`` (CSV)."""
    psql = shutil.which("psql")
    if psql is None:
        raise SystemExit("psql est introuvable : il sert de référence (\\copy).")
    query = " ".join(baseline_sql.split())
    started = time.perf_counter()
    subprocess.run(
        [psql, database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
         f"\\copy ({query}) TO '{target}' WITH (FORMAT csv, DELIMITER ';', HEADER)"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def measure_essms_export(database_url: str, *, repeat: int = 3) -> dict[str, float]:
    """Medians of ``repeat`` interleaved runs of the XLSX ESSMS export and of its baseline."""
    _setup_django(database_url)
    from django.db import connection

    from essms_portal.accounts.models import Role, User

    user = User.objects.filter(role=Role.CNSA_AGENT, is_active=True).order_by("pk").first()
    if user is None:
        raise SystemExit("Aucun agent CNSA dans cette base : lancez seed_demo --scale national.")
    from applications.instruction.filters import queue_filtered

    # The baseline reads the same dossiers: those of the agent's queue (drafts excluded).
    _filters, queue = queue_filtered(user=user, data={})
    queue_sql, params = queue.order_by().values("pk").query.sql_with_params()
    ops: Any = connection.ops  # PostgreSQL's operations (compose_sql is psycopg-specific)
    baseline_sql = BASELINE_SQL.format(queue=ops.compose_sql(queue_sql, params))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({baseline_sql}) q")
        (rows,) = cursor.fetchone()
    connection.close()  # psql and the export do not share a warm connection
    firsts, totals, copies = [], [], []
    with tempfile.TemporaryDirectory() as workdir:
        target = Path(workdir) / "essms.csv"
        for _ in range(repeat):
            copies.append(_time_copy(database_url, baseline_sql, target))
            first, total, _size = _time_export(user)
            firsts.append(first)
            totals.append(total)
    project, baseline = statistics.median(totals), statistics.median(copies)
    return {
        "rows": float(rows),
        "project": project,
        "first_byte": statistics.median(firsts),
        "baseline": baseline,
        "ratio": project / baseline,
        "goal": GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Banc d'essai de l'export ESSMS (XLSX).")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        raise SystemExit("Donnez une base PostgreSQL (copie de la base nationale) : DATABASE_URL.")
    result = measure_essms_export(args.database_url, repeat=args.repeat)
    met = result["ratio"] <= GOAL_RATIO
    print(
        f"bench essms_export_xlsx rows={result['rows']:.0f} project={result['project']:.2f}s "
        f"first_byte={result['first_byte']:.2f}s baseline={result['baseline']:.3f}s "
        f"ratio={result['ratio']:.2f} goal={GOAL_RATIO:.2f} {'ok' if met else 'SHORT'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
