"""PostgreSQL path of the FINESS import: the parser decides every line, COPY stages the accepted
records, SQL writes them set-wise.

History (issue #13): staging the raw lines and checking them in SQL (Luhn keys digit by digit,
dates, départements, duplicates…) cost more than the Python parser itself, whose identifier
checks now take a shortcut for the common valid number (``importer._finess_error``). So the one
:class:`~grappes.finess.importer.ExtractParser` reads the file for both paths, and its records
*are* the report (rejected lines and warnings by number, same messages, same counts: the tests
run both paths and compare). Here they are streamed with **one** ``COPY`` into a typed temporary
table, then, in the caller's single transaction:

1. one ``INSERT … ON CONFLICT`` for the organisations and one for the structures, geolocation
   included, that writes only the rows where a column differs (``RETURNING (xmax = 0)`` tells
   created from updated rows);
2. **re-import shortcut**: each structure written from a line without warning keeps that line's
   digest in ``Structure.finess_digest``: ``<hash of the line>:<epoch of updated_at>:<FINESS
   EJ>:<hash of the geolocation line that gave its coordinates, or nothing>``. Before reading,
   :func:`_unchanged_lines` loads the digests still valid — the row not written since (its
   ``updated_at`` is the one in the digest), its organisation still the line's EJ and already
   complete (SIREN, département: nothing for the line to fill), its category and eligibility
   those the referential gives today. The parser then hands back a byte-identical line as a
   :class:`~grappes.finess.importer.Skipped` record without checking it again (it passed every
   check and had no warning; a second identical line is still a duplicate), and the same for
   its geolocation line (:class:`~grappes.finess.importer.SkippedGeolocation`: the stored
   coordinates are that line's). Such a structure is not compared: only counted unchanged, or
   updated when a new geolocation line moves it. A line rejected or warned about never has a
   digest, so it is checked, and reported, on every run.

Unlike the batch-by-batch :class:`~grappes.finess.importer.OrmWriter`, a new organisation gets
the SIREN of the first of its establishments that has one even when that establishment comes
in a later batch (the ORM path then counts it as "updated"): only ``organisations_updated`` of
such a file differs between the two paths, never a row.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from ..models import FinessCategory, Organisation, Structure
from .importer import (
    PLACEHOLDER_EJ_NAME,
    STRUCTURE_FIELDS,
    Establishment,
    Geolocation,
    Reject,
    Skipped,
    SkippedGeolocation,
    concrete_field,
    new_row_defaults,
    prep_value,
)

if TYPE_CHECKING:
    from .importer import ExtractParser, ImportReport, ProgressCallback

# Progress is reported each time this many more bytes of the file have been read.
BLOCK_BYTES = 4 * 1024 * 1024
ACCEPTED = "finess_stage_accepted"
SKIPPED = "finess_stage_skipped"
GEOLOCATED = "finess_stage_geo_ok"
# Columns of the accepted establishments, in the COPY's order.
ACCEPTED_COLUMNS = (
    ("line", "integer"),
    ("finess", "text"),
    ("ej", "text"),
    ("name", "text"),
    ("long_name", "text"),
    ("address", "text"),
    ("postal_line", "text"),
    ("department", "text"),
    ("category_code", "text"),
    ("siret", "text"),
    ("siren", "text"),
    ("opened_on", "date"),
    ("updated_on", "date"),
    ("digest", "text"),  # _line_digest, NULL when the line had a warning
)
DIGEST_SEPARATOR = ":"
# A first import drops indexes only if it gets the tables' lock within this time (see
# _built_after).
DROP_LOCK_TIMEOUT = "1s"


def import_postgres(
    parser: ExtractParser,
    *,
    report: ImportReport,
    progress: ProgressCallback | None,
    total: int,
    connection: BaseDatabaseWrapper,
) -> None:
    """Parse the extract read by ``parser`` (after its marker), stage and write it in SQL."""
    now = timezone.now()
    with connection.cursor() as cursor:
        for table in (ACCEPTED, SKIPPED, GEOLOCATED):
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
        columns = ", ".join(f"{name} {kind}" for name, kind in ACCEPTED_COLUMNS)
        cursor.execute(f"CREATE TEMPORARY TABLE {ACCEPTED} ({columns}) ON COMMIT DROP")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {SKIPPED} (line integer, finess text) ON COMMIT DROP"
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE {GEOLOCATED} (finess text, line integer, "
            "x numeric(12, 2), y numeric(12, 2), digest text) ON COMMIT DROP"
        )
        # The staging tables are small next to the referential: keep index scans on it.
        cursor.execute("SET LOCAL random_page_cost = 1.1")
        # An empty table (first import): nothing to compare, every digest is written new.
        first_import = not _has_rows(cursor, connection.ops.quote_name(Structure._meta.db_table))
        if first_import:
            parser.unchanged = {}
        else:
            parser.unchanged, parser.unchanged_geolocations = _unchanged_lines(cursor, connection)

        def step() -> None:
            report.lines_read = parser.lines_read
            if progress is not None:
                progress(parser.bytes_read, total, report)

        skipped, geolocations = _stage(parser, cursor, report, step)
        if not parser.known_lines:
            return  # the caller refuses the file
        _copy_rows(cursor, SKIPPED, ("line", "finess"), skipped)
        _copy_rows(cursor, GEOLOCATED, ("finess", "line", "x", "y", "digest"), geolocations)
        del skipped, geolocations
        for table in (ACCEPTED, GEOLOCATED):
            cursor.execute(f"CREATE UNIQUE INDEX ON {table} (finess)")
        # Statistics for the planner, on the columns the writes join or filter on only: the
        # names and addresses are most of the sample's bytes and no plan looks at them.
        cursor.execute(f"ANALYZE {ACCEPTED} (finess, ej, line, category_code, siren, digest)")
        cursor.execute(f"ANALYZE {SKIPPED}")
        cursor.execute(f"ANALYZE {GEOLOCATED} (finess, line)")
        _write(cursor, connection, report, now, first_import=first_import)
    report.lines_read = parser.lines_read
    if progress is not None:
        progress(parser.bytes_read, total, report)


def _unchanged_lines(
    cursor: Any, connection: BaseDatabaseWrapper
) -> tuple[dict[str, str], dict[str, str]]:
    """Hash of each stored line whose structure a byte-identical line would leave as it is →
    its FINESS ET (see the module's docstring for each condition); likewise for the
    geolocation lines that gave those structures their coordinates."""
    q = connection.ops.quote_name
    digest = q("finess_digest")
    # Every structure is read: hash joins, whatever the statistics say (right after a first
    # import they still count an empty table, and nested loops took 4 times as long).
    cursor.execute("SET LOCAL enable_nestloop = off")
    cursor.execute(
        f"""
        SELECT split_part(s.{digest}, %(sep)s, 1), s.{q("finess")},
               split_part(s.{digest}, %(sep)s, 4)
        FROM {q(Structure._meta.db_table)} s
        JOIN {q(Organisation._meta.db_table)} o ON o.{q("id")} = s.{q("organisation_id")}
        LEFT JOIN {q(FinessCategory._meta.db_table)} c ON c.{q("code")} = s.{q("category_code")}
        WHERE s.{digest} IS NOT NULL
          AND split_part(s.{digest}, %(sep)s, 2) = extract(epoch FROM s.{q("updated_at")})::text
          AND split_part(s.{digest}, %(sep)s, 3) = o.{q("finess")}
          AND (o.{q("siren")} <> '' OR s.{q("siret")} = '') AND o.{q("departement_id")} IS NOT NULL
          AND s.{q("category_id")} IS NOT DISTINCT FROM c.{q("code")}
          AND s.{q("eligible")} = (c.{q("casf_item_id")} IS NOT NULL)
          AND s.{q("source")} = %(source)s
        """,  # noqa: S608 - identifiers come from the model, values are parameters
        {"sep": DIGEST_SEPARATOR, "source": Structure.Source.FINESS.value},
    )
    unchanged: dict[str, str] = {}
    geolocations: dict[str, str] = {}
    for line, finess, geolocation in cursor.fetchall():
        unchanged[line] = finess
        if geolocation:
            geolocations[geolocation] = finess
    cursor.execute("SET LOCAL enable_nestloop = on")
    return unchanged, geolocations


def _stage(
    parser: ExtractParser, cursor: Any, report: ImportReport, step: Callable[[], None]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """COPY the accepted establishments while reading; count rejects and warnings in the report.

    Skipped lines and geolocations are few columns each: they are kept and copied afterwards
    (one COPY at a time on a connection). Returns them.
    """
    skipped: list[tuple[Any, ...]] = []
    geolocations: list[tuple[Any, ...]] = []
    names = ", ".join(name for name, _ in ACCEPTED_COLUMNS)
    next_step = parser.bytes_read + BLOCK_BYTES
    with cursor.cursor.copy(f"COPY {ACCEPTED} ({names}) FROM STDIN") as copy:
        write = copy.write_row
        for record in parser:
            if isinstance(record, Establishment):
                write((
                    record.line, record.finess, record.finess_ej, record.name, record.long_name,
                    record.address, record.postal_line, record.department, record.category_code,
                    record.siret, record.siren, record.opened_on, record.updated_on,
                    record.digest or None,
                ))  # fmt: skip
            elif isinstance(record, Skipped):
                skipped.append((record.line, record.finess))
            elif isinstance(record, Geolocation):
                report.geolocated += 1
                geolocations.append(
                    (record.finess, record.line, record.x, record.y, record.digest or None)
                )
            elif isinstance(record, SkippedGeolocation):
                report.geolocated += 1
            elif isinstance(record, Reject):
                report.add_reject(record)
            else:
                if record.kind == "siret":
                    report.invalid_sirets += 1
                report.add_warning(record)
            if parser.bytes_read >= next_step:
                next_step = parser.bytes_read + BLOCK_BYTES
                step()
    step()
    return skipped, geolocations


def _copy_rows(cursor: Any, table: str, columns: tuple[str, ...], rows: list[Any]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _write(
    cursor: Any,
    connection: BaseDatabaseWrapper,
    report: ImportReport,
    now: datetime.datetime,
    *,
    first_import: bool,
) -> None:
    """Upsert the organisations, then the structures (with their geolocation)."""
    quote = connection.ops.quote_name
    categories = quote(FinessCategory._meta.db_table)
    structures = quote(Structure._meta.db_table)
    # Skipped lines count too: their structure holds the line's category code as it is.
    cursor.execute(
        f"""
        SELECT a.category_code, c.code IS NOT NULL, c.casf_item_id IS NOT NULL, count(*)
        FROM (
            SELECT category_code FROM {ACCEPTED}
            UNION ALL
            SELECT t.{quote("category_code")} FROM {SKIPPED} k
            JOIN {structures} t ON t.{quote("finess")} = k.finess
        ) a LEFT JOIN {categories} c ON c.code = a.category_code
        GROUP BY 1, 2, 3
        """  # noqa: S608
    )
    for code, known, eligible, count in cursor.fetchall():
        if not known:
            report.unknown_categories[code] += count
        elif not eligible:
            report.not_essms += count
    with _built_after(cursor, connection):
        _upsert_organisations(cursor, connection, report, now)
        _upsert_structures(cursor, connection, report, now)
    if not first_import:  # else every row was just written with its digest
        _store_digests(cursor, connection)
    _geolocate_skipped(cursor, connection, report, now)


@contextmanager
def _built_after(cursor: Any, connection: BaseDatabaseWrapper) -> Iterator[None]:
    """A first import (no organisation, no structure yet): the secondary indexes and foreign
    keys of both tables are dropped, then built again once the rows are in, in the import's
    transaction.

    Measured on 100 000 establishments (issue #13), maintaining them row by row cost more than
    the rows themselves: the organisations' trigram index (queue search), seven indexes on the
    structures, three deferred foreign-key checks per structure run one by one at commit. Built
    afterwards, an index is one sort and a foreign key one join (which checks every row, as
    the deferred checks did). Dropping takes an exclusive lock on both tables until the commit,
    harmless while they have nothing to read; with any row in either, nothing is dropped. The
    definitions are read from the catalog, so what is built again is what was there. PostgreSQL
    refuses the drop while a trigger event is pending on these tables in the caller's
    transaction, or while a reader holds a lock on them for more than DROP_LOCK_TIMEOUT: the
    import then maintains them row by row, as on a re-import. Meanwhile a request reading
    these tables waits for the commit (seconds) instead of finding them empty.
    """
    q = connection.ops.quote_name
    tables = [q(model._meta.db_table) for model in (Organisation, Structure)]
    if any(_has_rows(cursor, table) for table in tables):
        yield
        return
    indexes: list[tuple[str, str]] = []
    foreign_keys: list[tuple[str, str, str]] = []
    for table in tables:
        cursor.execute(
            """
            SELECT format('%%I', i.relname), pg_get_indexdef(i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = %s::regclass
              AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            ORDER BY 1
            """,
            [table],
        )
        indexes += cursor.fetchall()
        cursor.execute(
            """
            SELECT %s, format('%%I', conname), pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY 2
            """,
            [table, table],
        )
        foreign_keys += cursor.fetchall()
    # Waiting behind a reader would hold up every request queued after the drop: give up soon.
    cursor.execute("SELECT current_setting('lock_timeout')")
    lock_timeout = cursor.fetchone()[0]
    cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
    try:
        with transaction.atomic(using=connection.alias):  # a savepoint
            for table, name, _ in foreign_keys:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")
    except OperationalError:  # a pending trigger event, a lock not granted: everything stays
        indexes, foreign_keys = [], []
    finally:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
    yield
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def _has_rows(cursor: Any, table: str) -> bool:
    cursor.execute(f"SELECT EXISTS (SELECT FROM {table})")  # noqa: S608 - a model's table
    return bool(cursor.fetchone()[0])


def _defaults_sql(
    connection: BaseDatabaseWrapper, model: type[Any], provided: set[str], now: datetime.datetime
) -> tuple[list[str], list[str], list[Any]]:
    """Column names, ``%s`` placeholders and values for the columns the stage lacks."""
    defaults = new_row_defaults(model, provided=provided, now=now)
    return (
        [connection.ops.quote_name(field.column) for field, _ in defaults],
        [f"%s::{field.db_type(connection)}" for field, _ in defaults],
        [prep_value(field, value, connection) for field, value in defaults],
    )


def _upsert_organisations(
    cursor: Any, connection: BaseDatabaseWrapper, report: ImportReport, now: datetime.datetime
) -> None:
    """Create missing EJ (placeholder name); fill the SIREN/département of known ones."""
    q = connection.ops.quote_name
    organisations = q(Organisation._meta.db_table)
    provided = {"finess", "name", "siren", "departement_id"}
    names, placeholders, params = _defaults_sql(connection, Organisation, provided, now)
    extra_names = "".join(f", {n}" for n in names)
    extra_values = "".join(f", {p}" for p in placeholders)
    siren, department = q("siren"), q("departement_id")
    pk = q(Organisation._meta.pk.column)
    cursor.execute(
        f"""
        WITH firsts AS (
            SELECT DISTINCT ON (ej) ej, department FROM {ACCEPTED} ORDER BY ej, line
        ), sirens AS (
            SELECT DISTINCT ON (ej) ej, siren FROM {ACCEPTED} WHERE siren <> ''
            ORDER BY ej, line
        ), ej AS (
            -- Per EJ: the département of its first establishment, the first SIREN given.
            SELECT f.ej AS finess_ej, coalesce(s.siren, '') AS siren, f.department
            FROM firsts f LEFT JOIN sirens s ON s.ej = f.ej
        )
        INSERT INTO {organisations} AS o
            ({q("finess")}, {q("name")}, {siren}, {department}{extra_names})
        SELECT finess_ej, replace(%s, '{{finess}}', finess_ej), ej.siren, ej.department
               {extra_values}
        FROM ej LEFT JOIN {organisations} cur ON cur.{q("finess")} = ej.finess_ej
        -- Complete organisations are left alone (not even locked by ON CONFLICT).
        WHERE cur.{pk} IS NULL OR (cur.{siren} = '' AND ej.siren <> '')
              OR cur.{department} IS NULL
        ON CONFLICT ({q("finess")}) DO UPDATE SET
            {siren} = CASE WHEN o.{siren} = '' THEN EXCLUDED.{siren} ELSE o.{siren} END,
            {department} = COALESCE(o.{department}, EXCLUDED.{department}),
            {q("updated_at")} = %s
        WHERE (o.{siren} = '' AND EXCLUDED.{siren} <> '') OR o.{department} IS NULL
        RETURNING (xmax = 0)
        """,  # noqa: S608 - identifiers come from the model, values are parameters
        [PLACEHOLDER_EJ_NAME, *params, now],
    )
    inserted = [flag for (flag,) in cursor.fetchall()]
    report.organisations_created += sum(inserted)
    report.organisations_updated += len(inserted) - sum(inserted)


# Accepted columns giving each Structure field the extract owns (organisation and category are
# joined, eligibility and source computed, coordinates come from the geolocation stage).
_GIVEN = {
    "siret": "a.siret",
    "name": "a.name",
    "long_name": "a.long_name",
    "category_id": "c.code",
    "category_code": "a.category_code",
    "eligible": "(c.casf_item_id IS NOT NULL)",
    "departement_id": "a.department",
    "address": "a.address",
    "postal_line": "a.postal_line",
    "opened_on": "a.opened_on",
    "finess_updated_on": "a.updated_on",
}


def _upsert_structures(
    cursor: Any, connection: BaseDatabaseWrapper, report: ImportReport, now: datetime.datetime
) -> None:
    """Insert new structures, update those where an extract column or a coordinate differs."""
    q = connection.ops.quote_name
    structures = q(Structure._meta.db_table)
    organisations = q(Organisation._meta.db_table)
    categories = q(FinessCategory._meta.db_table)
    fields = [*STRUCTURE_FIELDS, "lambert_x", "lambert_y"]
    owned = [q(concrete_field(Structure, name).column) for name in fields]
    given = {
        **_GIVEN,
        "organisation_id": f"o.{q(Organisation._meta.pk.column)}",
        "source": "%s",
        # Without a geolocation line the stored coordinates stay (none for a new structure).
        "lambert_x": f"CASE WHEN g.line IS NULL THEN cur.{q('lambert_x')} ELSE g.x END",
        "lambert_y": f"CASE WHEN g.line IS NULL THEN cur.{q('lambert_y')} ELSE g.y END",
    }
    missing = set(fields) - set(given)
    assert not missing, missing  # a new extract column must be mapped here
    values = [given[name] for name in fields]
    digest = q("finess_digest")
    names, placeholders, params = _defaults_sql(
        connection, Structure, {"finess", "finess_digest", *fields}, now
    )
    pk = q(Structure._meta.pk.column)
    current = ", ".join(f"t.{c}" for c in owned)
    incoming = ", ".join(f"EXCLUDED.{c}" for c in owned)
    stored = ", ".join(f"cur.{c}" for c in owned)
    cursor.execute(
        f"""
        INSERT INTO {structures} AS t ({", ".join([q("finess"), *owned, digest, *names])})
        SELECT {", ".join(["a.finess", *values, _digest_sql("a", "%s::timestamptz")])},
               {", ".join(placeholders)}
        FROM {ACCEPTED} a
        JOIN {organisations} o ON o.{q("finess")} = a.ej
        LEFT JOIN {categories} c ON c.code = a.category_code
        LEFT JOIN {GEOLOCATED} g ON g.finess = a.finess
        LEFT JOIN {structures} cur ON cur.{q("finess")} = a.finess
        -- Identical rows are filtered out here rather than by ON CONFLICT … WHERE, which
        -- would still lock each of them.
        WHERE cur.{pk} IS NULL OR ({stored}) IS DISTINCT FROM ({", ".join(values)})
        ORDER BY a.line  -- in the file's order: a failure names the same row every time
        ON CONFLICT ({q("finess")}) DO UPDATE SET
            {", ".join(f"{c} = EXCLUDED.{c}" for c in owned)},
            {digest} = EXCLUDED.{digest}, {q("updated_at")} = %s
        WHERE ({current}) IS DISTINCT FROM ({incoming})
        RETURNING (xmax = 0)
        """,  # noqa: S608 - identifiers come from the model, values are parameters
        [Structure.Source.FINESS.value, now, *params, Structure.Source.FINESS.value, now],
    )
    inserted = [flag for (flag,) in cursor.fetchall()]
    created = sum(inserted)
    cursor.execute(f"SELECT count(*) FROM {ACCEPTED}")  # noqa: S608
    accepted = cursor.fetchone()[0]
    report.created += created
    report.updated += len(inserted) - created
    report.unchanged += accepted - len(inserted)


def _digest_sql(accepted: str, updated_at: str, geolocation: str = "g") -> str:
    """SQL: the digest stored for an accepted line (alias ``accepted``) written at
    ``updated_at`` with the coordinates of its geolocation line (alias ``geolocation``, none:
    an empty last part); NULL for a line with a warning."""
    epoch = f"extract(epoch FROM {updated_at})::text"
    separator = f"'{DIGEST_SEPARATOR}'"
    return (
        f"({accepted}.digest || {separator} || {epoch} || {separator} || {accepted}.ej "
        f"|| {separator} || coalesce({geolocation}.digest, ''))"
    )


def _store_digests(cursor: Any, connection: BaseDatabaseWrapper) -> None:
    """The digest of the rows left as they were (the first import after this column was
    added, or a line that had a warning last time): their ``updated_at`` does not move."""
    q = connection.ops.quote_name
    structures, digest = q(Structure._meta.db_table), q("finess_digest")
    expected = _digest_sql("a", f"t.{q('updated_at')}")
    cursor.execute(
        f"""
        UPDATE {structures} t SET {digest} = {expected}
        FROM {ACCEPTED} a LEFT JOIN {GEOLOCATED} g ON g.finess = a.finess
        WHERE t.{q("finess")} = a.finess AND a.digest IS NOT NULL
          AND t.{digest} IS DISTINCT FROM {expected}
        """  # noqa: S608 - identifiers come from the model
    )


def _geolocate_skipped(
    cursor: Any, connection: BaseDatabaseWrapper, report: ImportReport, now: datetime.datetime
) -> None:
    """Skipped lines: their structure counts as unchanged, or as updated when its geolocation
    line gives other coordinates (written, the digest following the new ``updated_at``)."""
    q = connection.ops.quote_name
    structures, digest = q(Structure._meta.db_table), q("finess_digest")
    x, y = q("lambert_x"), q("lambert_y")
    separator = f"'{DIGEST_SEPARATOR}'"
    cursor.execute(
        f"""
        UPDATE {structures} t SET {x} = g.x, {y} = g.y, {q("updated_at")} = %(now)s,
            {digest} = split_part(t.{digest}, {separator}, 1) || {separator}
                || extract(epoch FROM %(now)s::timestamptz)::text || {separator}
                || split_part(t.{digest}, {separator}, 3) || {separator} || coalesce(g.digest, '')
        FROM {SKIPPED} k JOIN {GEOLOCATED} g ON g.finess = k.finess
        WHERE t.{q("finess")} = k.finess AND (t.{x}, t.{y}) IS DISTINCT FROM (g.x, g.y)
        """,  # noqa: S608 - identifiers come from the model, values are parameters
        {"now": now},
    )
    geolocated = cursor.rowcount
    cursor.execute(f"SELECT count(*) FROM {SKIPPED}")  # noqa: S608
    report.unchanged += cursor.fetchone()[0] - geolocated
    report.updated += geolocated
