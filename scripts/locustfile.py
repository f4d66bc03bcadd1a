"""Locust users of ``make bench-load`` (driven by scripts/bench_load.py, which writes the plan).

The plan (JSON at ``BENCH_LOAD_PLAN``) holds logged-in sessions — their cookie and the pages
their user may open, each with a label and a weight. ``PortalUser`` takes the sessions in turn
and loops over its pages without think time; ``TrivialUser`` asks the health view, the baseline
of the same stack. Anything but a 200 (a redirect to the login or MFA page included) is an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from typing import Any

from locust import FastHttpUser, constant, task

_PLAN: dict[str, Any] = (
    json.loads(open(os.environ["BENCH_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
    if os.environ.get("BENCH_LOAD_PLAN")
    else {"cookie_name": "sessionid", "sessions": []}
)
_TURN = itertools.count()


def _get(user: FastHttpUser, path: str, name: str, cookie: str | None = None) -> None:
    headers = {"Cookie": f"{_PLAN['cookie_name']}={cookie}"} if cookie else {}
    with user.client.get(
        path, name=name, headers=headers, allow_redirects=False, catch_response=True
    ) as response:
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code}")


class PortalUser(FastHttpUser):
    """One logged-in session (agent or applicant) reading the portal's heavy pages."""

    wait_time = constant(0)

    def on_start(self) -> None:
        sessions = _PLAN["sessions"]
        if not sessions:
            raise RuntimeError("BENCH_LOAD_PLAN: aucune session")
        session = sessions[next(_TURN) % len(sessions)]
        self.cookie: str = session["cookie"]
        self.pages: list[tuple[str, str]] = [(p["path"], p["name"]) for p in session["pages"]]
        self.weights: list[float] = [p["weight"] for p in session["pages"]]

    @task
    def page(self) -> None:
        path, name = random.choices(self.pages, weights=self.weights)[0]
        _get(self, path, name, self.cookie)


class TrivialUser(FastHttpUser):
    """The baseline: the health view (one ``SELECT 1``) through the same middleware stack."""

    wait_time = constant(0)

    @task
    def health(self) -> None:
        _get(self, "/healthz/", "trivial /healthz/")
