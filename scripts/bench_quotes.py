"""Time the batch quote service against the rules alone, on a seeded national database.

    DATABASE_URL=postgres://…/<a copy of the national seed> .venv/bin/python scripts/bench_quotes.py

Measures, interleaved, medians of ``--repeat`` runs, every dossier of the latest campaign:
- ``quotes_for``: the batch service (queries + rules);
- ``compute_quote`` alone on the same inputs (requests, parameters, referential built before);
and once (``--per-dossier``) the per-dossier ``quote_for`` loop it replaces. Prints the query
count of the batch and whether the goals hold (< 2 s, ≤ 5x the rules alone). Reads only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "essms_portal.settings.local")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from applications.models import Application, Campaign  # noqa: E402
from funding.rules import compute_quote  # noqa: E402
from funding.services import (  # noqa: E402
    campaign_parameters,
    quote_for,
    quote_requests_for,
    quotes_for,
    referential_from_db,
)

GOAL_SECONDS = 2.0
GOAL_RATIO = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--per-dossier", action="store_true", help="also time quote_for x N")
    options = parser.parse_args()
    campaign = Campaign.objects.order_by("-year").first()
    if campaign is None:
        sys.exit("No campaign: seed the national dataset first (seed_demo --scale national).")
    dossiers = list(Application.objects.filter(call__campaign=campaign).order_by("pk"))
    print(f"{len(dossiers)} dossiers, campaign {campaign.year}")

    requests = quote_requests_for(applications=dossiers)
    parameters = campaign_parameters(campaign=campaign)
    referential = referential_from_db()

    batch, rules = [], []
    for _ in range(options.repeat):
        fresh = list(Application.objects.filter(call__campaign=campaign).order_by("pk"))
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            quotes = quotes_for(applications=fresh)
        batch.append(time.perf_counter() - start)
        start = time.perf_counter()
        for request in requests.values():
            compute_quote(request, parameters=parameters, referential=referential)
        rules.append(time.perf_counter() - start)
    assert len(quotes) == len(dossiers)
    project, baseline = statistics.median(batch), statistics.median(rules)
    ratio = project / baseline
    ok = project < GOAL_SECONDS and ratio <= GOAL_RATIO
    print(
        f"bench quotes_for project={project * 1000:.0f}ms baseline={baseline * 1000:.0f}ms "
        f"ratio={ratio:.2f} goal={GOAL_RATIO:.2f} queries={len(queries)} "
        f"{'ok' if ok else 'SHORT'}"
    )
    if options.per_dossier:
        start = time.perf_counter()
        for application in dossiers:
            quote_for(application=application)
        elapsed = time.perf_counter() - start
        print(f"bench quote_forxN {elapsed:.1f}s ({elapsed / project:.0f}x the batch)")


if __name__ == "__main__":
    main()
