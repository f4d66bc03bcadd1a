"""Shared fixtures: Chromium for Playwright, strictness on skipped tests in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.factories import mfa_enrolled

# Property tests assert properties, never timings: no per-example deadline (hypothesis' 200 ms
# default fails a correct test on a loaded CI machine) and no "too slow" health check.
hypothesis_settings.register_profile(
    "portal", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("portal")

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


@pytest.fixture(autouse=True)
def _clear_shared_cache(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    """The cache (rate limits) lives in the test database: a test that commits clears it, so
    neither tests nor runs share state (other tests' rows are rolled back with them)."""
    yield
    marker = request.node.get_closest_marker("django_db")
    committing = {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if committing:
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


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


@pytest.fixture
def admin_user(admin_user: Any) -> Any:
    """pytest-django's superuser (``admin_client``), enrolled in MFA as every agent must be."""
    return mfa_enrolled(admin_user)


@pytest.fixture
def private_storage(settings: Any, tmp_path: Any) -> Any:
    """Files stored by the test (letters, archives, uploads) go to its own directory, which
    pytest removes, not to the shared test storage. Returns that directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }
    return tmp_path / "private"


def ensure_referential() -> None:
    """Reload the referential (regions, départements, categories) and the site when a
    transactional test before this one flushed them (live-server browser tests do)."""
    import importlib

    from django.apps import apps
    from django.contrib.sites.models import Site

    from grappes.models import Region

    Site.objects.get_or_create(pk=1, defaults={"domain": "localhost", "name": "ESMS numérique"})
    if not Region.objects.exists():
        migration = importlib.import_module("grappes.migrations.0002_referential")
        migration.load_referential(apps, None)
        migration.load_site_config(apps, None)


@pytest.fixture(autouse=True)
def _referential_for_transactional_tests(request: pytest.FixtureRequest) -> None:
    """A transactional test (real commits) runs after whatever flushed the tables before it:
    give it the referential that data migrations loaded, whatever the test order."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("_django_db_helper")
        ensure_referential()
