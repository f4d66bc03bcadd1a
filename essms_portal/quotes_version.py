"""The version of the submitted dossiers' funding quotes, for the caches that hold them.

Whatever changes the quote of a submitted dossier (a workflow transition, an update of its
requests, a grappe's ESSMS) calls :func:`quotes_changed`; a cache of computed quotes (the
dashboard's "requested" amounts) keys its entries with :func:`quotes_version`, so the next read
after the change misses. Edits that do not go through a service (the admin's campaign
parameters, the referential) are left to the caches' own expiry.

It lives here, below ``grappes`` and ``applications`` (both bump it), and needs only Django's
cache. The version is a random token rather than a counter: an evicted key never comes back
with a value that an old, stale entry was stored under."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "quotes:version"


def version_of(key: str) -> str:
    """The random token stored under ``key`` in the shared cache, made on first read (also the
    quotes' referential memo's, ``funding.referential_memo``)."""
    version = cache.get(key)
    if version is None:
        fresh = uuid.uuid4().hex
        # ``add`` keeps the first of two concurrent first readers' tokens.
        added = cache.add(key, fresh, timeout=None)
        version = fresh if added else (cache.get(key) or fresh)
    return str(version)


def version_renew(key: str) -> None:
    """A new token under ``key``: whatever was cached under the former one is dead."""
    cache.set(key, uuid.uuid4().hex, timeout=None)


def quotes_version() -> str:
    """The current version; read it BEFORE reading the data a cached entry is computed from,
    so that an entry computed from data older than a change is stored under a dead version."""
    return version_of(VERSION_KEY)


def _bump() -> None:
    version_renew(VERSION_KEY)


def quotes_changed() -> None:
    """Start a new version once the current transaction commits (at once outside of one):
    bumped earlier, a reader could cache the data as it was before the commit under the new
    version. ``robust``: a cache outage must not turn a committed write into an error (the
    entries then expire with their TTL)."""
    transaction.on_commit(_bump, robust=True)
