"""Shared fixtures: Chromium for Playwright, strictness on skipped tests in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
_skipped: list[str] = []


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, headless, with no network chatter (the machine has no internet)."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def artifacts_dir() -> Iterator[Any]:
    """Where browser tests keep their screenshots (kept as CI artifacts)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    yield path


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (REQUIRE_BROWSER_TESTS=1) a skipped test is a failure: nothing may hide."""
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1" and _skipped:
        print("\nTests sautés alors que CI les exige :", *_skipped, sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def drain(response: Any) -> bytes:
    """Read a streamed (file) response and close its file without response.close(), which
    would fire request_finished and close the test's database connection."""
    content = b"".join(response.streaming_content)
    for closer in response._resource_closers:
        closer()
    response._resource_closers.clear()
    return content
