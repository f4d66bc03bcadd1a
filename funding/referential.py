"""The referential as the rules see it, built from the data module (no database)."""

from __future__ import annotations

from grappes import referential_data as data

from .rules import Referential


def default_referential() -> Referential:
    """Départements → regions, categories → CASF items, reduced-minimum regions."""
    return Referential(
        departments={row.code: row.region for row in data.DEPARTMENTS},
        categories={row.code: row.casf_item for row in data.FINESS_CATEGORIES},
        reduced_minimum_regions=frozenset(
            row.code for row in data.REGIONS if row.reduced_grappe_minimum
        ),
    )
