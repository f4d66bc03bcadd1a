"""The referential of the quotes, held in memory by each process under a version they share.

Every quote reads the same three referential tables (départements → regions, FINESS categories →
CASF items, regions with a reduced grappe minimum): three queries per quote for rows that change
a few times a year, in the admin. Each process keeps the :class:`~funding.rules.Referential` it
built last with the version it was built under; a quote then reads the version alone (one cache
GET) and rebuilds only when it changed (issue #13, load test).

The version lives in Django's cache, shared by every process (Redis in production). Saving or
deleting a Region, Departement or FinessCategory (``FundingConfig.ready`` connects the signals)
starts a new version once the transaction commits: bumped earlier, another process could rebuild
from the rows as they were before the commit and keep them under the new version. Writes that
send no signal (a data migration, ``QuerySet.update``) are bounded by the memo's age: a process
rebuilds at least every ``MEMO_TTL`` seconds. The version is a random token rather than a
counter, as ``essms_portal.quotes_version``: a version evicted from the cache never comes back
with a value that an old memo holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.db import transaction

from essms_portal.quotes_version import version_of, version_renew

from .rules import Referential

logger = logging.getLogger(__name__)

VERSION_KEY = "funding:referential:version"
# Seconds after which a process rebuilds its memo whatever the version: the bound on how long a
# write that sent no signal takes to reach the quotes.
MEMO_TTL = 600.0


@dataclass(frozen=True)
class _Memo:
    version: str
    built_at: float  # time.monotonic() of the build
    referential: Referential


_memo: _Memo | None = None


def referential_version() -> str:
    """The current version; read it BEFORE the tables, so that a memo built from rows older than
    a change is kept under a version that is already dead."""
    return version_of(VERSION_KEY)


def cached_referential(build: Callable[[], Referential]) -> Referential:
    """The process's referential if it was built under the current version less than
    ``MEMO_TTL`` seconds ago, else ``build()``'s, kept for the next quotes."""
    global _memo
    try:
        version = referential_version()
    except Exception:  # the cache's own errors differ by backend (Redis, database)
        # A cache outage must not take the quotes down: they read the tables, as before.
        logger.warning("Cache indisponible : référentiel des chiffrages lu en base.", exc_info=True)
        return build()
    memo = _memo
    if memo is not None and memo.version == version and time.monotonic() - memo.built_at < MEMO_TTL:
        return memo.referential
    referential = _read_only(build())
    _memo = _Memo(version=version, built_at=time.monotonic(), referential=referential)
    return referential


def _read_only(referential: Referential) -> Referential:
    """The same referential with read-only mappings: every quote of the process shares it, so
    none may change it for the others."""
    return Referential(
        departments=MappingProxyType(dict(referential.departments)),
        categories=MappingProxyType(dict(referential.categories)),
        reduced_minimum_regions=frozenset(referential.reduced_minimum_regions),
        region_names=MappingProxyType(dict(referential.region_names)),
    )


def _bump() -> None:
    version_renew(VERSION_KEY)


def referential_changed(*, using: str | None = None, **_signal: Any) -> None:
    """A referential row was saved or deleted (signal receiver): a new version once the
    transaction commits (at once outside of one). ``robust``: a cache outage must not turn the
    committed write into an error (the memos then expire with ``MEMO_TTL``)."""
    transaction.on_commit(_bump, using=using, robust=True)
