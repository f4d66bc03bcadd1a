"""The quotes' referential held in memory per process (funding.referential_memo): rebuilt when
a referential row changes (once committed) or another process starts a new version."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from funding import referential_memo
from funding.services import quote_referential
from grappes.models import Departement, Region

pytestmark = pytest.mark.django_db


def test_the_referential_is_read_once_then_held(django_assert_num_queries):
    first = quote_referential()
    with django_assert_num_queries(1):  # the version (the test cache is the database's)
        assert quote_referential() is first


def test_a_committed_change_shows_in_the_next_quote(django_capture_on_commit_callbacks):
    before = quote_referential()
    region = Region.objects.get(code="11")
    assert "11" not in before.reduced_minimum_regions
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        region.reduced_grappe_minimum = True
        region.save()
    assert callbacks  # the version is renewed on commit, not before
    assert "11" in quote_referential().reduced_minimum_regions


def test_an_uncommitted_change_keeps_the_version(django_capture_on_commit_callbacks):
    version = referential_memo.referential_version()
    with django_capture_on_commit_callbacks(execute=False):
        Departement.objects.filter(code="75").first().save()
        assert referential_memo.referential_version() == version


def test_another_process_bump_is_seen(monkeypatch: Any):
    before = quote_referential()
    # Another process committed a change: its on-commit hook wrote a new version, and the row.
    Departement.objects.filter(code="75").update(region_id="84")
    cache.set(referential_memo.VERSION_KEY, "another-process", timeout=None)
    after = quote_referential()
    assert before.departments["75"] == "11"
    assert after.departments["75"] == "84"


def test_a_change_without_signal_shows_after_the_memo_age(monkeypatch: Any):
    quote_referential()
    Departement.objects.filter(code="75").update(region_id="84")  # no signal, no new version
    assert quote_referential().departments["75"] == "11"
    monkeypatch.setattr(referential_memo, "MEMO_TTL", 0.0)
    assert quote_referential().departments["75"] == "84"


def test_the_shared_referential_is_read_only():
    with pytest.raises(TypeError):
        quote_referential().departments["75"] = "84"  # type: ignore[index]


def test_a_cache_outage_reads_the_tables(monkeypatch: Any, django_assert_num_queries):
    def down(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    with django_assert_num_queries(3):  # the three tables, no cache
        referential = quote_referential()
    assert referential.departments["75"] == "11"
