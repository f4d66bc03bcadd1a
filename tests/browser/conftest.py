"""Browser tests run on a transactional database (live_server): the flush between such tests
empties the tables filled by data migrations, so the referential is reloaded when missing."""

import pytest

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
