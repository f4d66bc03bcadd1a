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
