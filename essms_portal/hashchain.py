"""Hash-chained logs (the workflow log of a dossier, the follow-up log of a grant): each entry
stores the previous entry's hash and its own, computed over its content and that previous hash,
so an edited or deleted entry breaks the chain from there on.

Each log keeps its own digest (its fields, its JSON encoding: changing either would change the
hashes already stored); the chain's rules are here once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

#: The "previous hash" of a log's first entry.
GENESIS_HASH = "0" * 64


class ChainedEntry(Protocol):
    previous_hash: str
    entry_hash: str


Entry = TypeVar("Entry", bound=ChainedEntry)


def chain_first_broken(
    entries: Iterable[Entry], *, digest: Callable[[Entry, str], str]
) -> Entry | None:
    """The first entry, in log order, whose stored hashes do not match ``digest(entry,
    previous_hash)`` chained from the genesis hash, or None when the whole chain holds."""
    previous = GENESIS_HASH
    for entry in entries:
        if entry.previous_hash != previous or entry.entry_hash != digest(entry, previous):
            return entry
        previous = entry.entry_hash
    return None
