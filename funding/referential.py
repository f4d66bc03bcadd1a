"""The referential as the rules see it, built from the pure data module (no database).

Used by ``manage.py funding_quote`` and the tests; the portal's services build the same
:class:`~funding.rules.Referential` from the database tables, which the data migration fills from
the same module.
"""

from __future__ import annotations

from grappes import referential_data as data

from .rules import Referential


def default_referential() -> Referential:
    """Départements → regions, categories → CASF items, reduced-minimum regions, region names."""
    return Referential(
        departments={row.code: row.region for row in data.DEPARTMENTS},
        categories={row.code: row.casf_item for row in data.FINESS_CATEGORIES},
        reduced_minimum_regions=frozenset(
            row.code for row in data.REGIONS if row.reduced_grappe_minimum
        ),
        region_names={row.code: row.name for row in data.REGIONS},
    )


def default_region_codes() -> frozenset[str]:
    """INSEE codes of the 18 ARS regions (the regions a regional call can belong to)."""
    return frozenset(row.code for row in data.REGIONS)
