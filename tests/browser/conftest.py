"""Browser tests run on a transactional database (live_server): the flush between such tests
empties the tables filled by data migrations, so the referential is reloaded when missing."""

import pytest

from tests.browser.helpers import watch_csp
from tests.conftest import ensure_referential


@pytest.fixture(autouse=True)
def referential(transactional_db):
    ensure_referential()


def pytest_collection_modifyitems(config, items):
    """Without Debian's Chromium (a bare machine running `make test`), browser tests are
    skipped with a reason; CI installs Chromium and fails on any skip (REQUIRE_BROWSER_TESTS)."""
    import os

    from tests.conftest import CHROMIUM

    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} absent : apt-get install chromium (voir .ci/run)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_csp_violation(request, monkeypatch):
    """Every browser test fails on a Content-Security-Policy violation in any of its pages
    (the ``page`` fixture's context and any context the test opens with ``browser``)."""
    problems: list[str] = []
    if "page" in request.fixturenames:
        watch_csp(request.getfixturevalue("context"), problems)
    if "browser" in request.fixturenames:
        browser = request.getfixturevalue("browser")
        new_context = browser.new_context

        def watched_new_context(*args, **kwargs):
            context = new_context(*args, **kwargs)
            watch_csp(context, problems)
            return context

        monkeypatch.setattr(browser, "new_context", watched_new_context)
    yield problems
    assert problems == [], "Violations de la CSP :\n" + "\n".join(problems)
