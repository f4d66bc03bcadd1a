"""Browser tests run on a transactional database (live_server): the flush between such tests
empties the tables filled by data migrations, so the referential is reloaded when missing."""

import importlib

import pytest
from django.apps import apps


@pytest.fixture(autouse=True)
def referential(transactional_db):
    from django.contrib.sites.models import Site

    from grappes.models import Region

    Site.objects.get_or_create(pk=1, defaults={"domain": "localhost", "name": "ESMS numérique"})

    if not Region.objects.exists():
        migration = importlib.import_module("grappes.migrations.0002_referential")
        migration.load_referential(apps, None)
        migration.load_site_config(apps, None)


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
