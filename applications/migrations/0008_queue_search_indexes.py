"""Trigram indexes serving the back-office queue's text search (issue #13).

The queue searches grappe and porteur names with ``icontains``, which Django compiles on
PostgreSQL to ``UPPER(name::text) LIKE UPPER('%…%')``: only a trigram GIN index on that very
expression can serve it. The indexes are on grappes' tables but exist for the queue, so they
live here; ``grappes`` knows nothing of them (its models declare no such index, and the
autodetector leaves raw SQL alone).

PostgreSQL only: ``TrigramExtension`` does nothing on another database, and the indexes are
created by a vendor-guarded RunPython, so ``make demo`` on SQLite migrates as before (there the
search scans, which is fine at demo size).
"""

from typing import Any

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = (
    ("grappes_grappe_name_upper_trgm", "grappes_grappe"),
    ("grappes_organisation_name_upper_trgm", "grappes_organisation"),
)


def create_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for index, table in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" '
            'USING gin ((UPPER("name"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for index, _table in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index}"')


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0007_money_fields_bounded"),
        ("grappes", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
