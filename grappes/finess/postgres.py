"""PostgreSQL path of the FINESS import: stage the raw lines, validate and upsert in SQL.

Measured on 100 000 establishments, the Python parser alone (splitting, Luhn keys, dates,
départements, one object per line) cost about 8 times a ``psql \\copy`` of the file before anything
was written (issue #13). Here Python only cuts the file into blocks of whole lines (LF; a CR file
is normalised first) and decodes them; each block goes to the server as **one** text parameter,
split there into lines and ``;``-separated fields (``string_to_array``) in a temporary staging
table, with its line numbers. The rest is SQL, in the caller's single transaction:

1. every check of :class:`grappes.finess.importer.ExtractParser`, in the same order and with the
   same French messages (the identifier messages are those of ``funding.identifiers``, taken
   from it at run time): line type, truncated line, FINESS ET/EJ shape and Luhn key,
   département, duplicates (the first accepted occurrence wins), missing name, SIRET key
   (a warning), dates, coordinates, geolocations before or without their establishment;
2. one ``INSERT … ON CONFLICT`` for the organisations and one for the structures, geolocation
   included, that writes only the rows where a column differs (``RETURNING (xmax = 0)`` tells
   created from updated rows).

Python still handles the few lines SQL cannot judge alike: lines with a double quote (the csv
module's quoting rules) or a NUL byte (PostgreSQL text cannot hold it), blocks that are not UTF-8
(decoded line by line, UTF-8 else Latin-1), and values outside the strict shapes the SQL
accepts (a date that is not ``AAAA-MM-JJ``/``JJ/MM/AAAA``, a coordinate with more than two
decimals or an exponent…): those are decided by the parser's own functions and written back
before the checks that depend on them. The report is therefore the one the Python parser gives
(the tests run both paths on the same files and compare), rejected lines by number.

Unlike the batch-by-batch :class:`~grappes.finess.importer.OrmWriter`, a new organisation gets
the SIREN of the first of its establishments that has one even when that establishment comes
in a later batch (the ORM path then counts it as "updated"): only ``organisations_updated`` of
such a file differs between the two paths, never a row.
"""

from __future__ import annotations

import csv
import datetime
import json
import re
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from funding.identifiers import CORSICAN_FINESS_PREFIXES, LA_POSTE_SIREN, finess_error

from ..models import Departement, FinessCategory, Organisation, Structure
from ..referential_data import ETALAB_DEPARTMENT_ALIASES
from .importer import (
    KNOWN_LINE_TYPES,
    MAX_COORDINATE,
    MAX_DETAILED_ENTRIES,
    MIN_GEOLOCATION_COLUMNS,
    MIN_STRUCTURE_COLUMNS,
    PLACEHOLDER_EJ_NAME,
    STRUCTURE_FIELDS,
    TWO_PLACES,
    LineWarning,
    Reject,
    _decode,
    _nul_reject,
    _parse_date,
    _split,
    concrete_field,
    new_row_defaults,
    prep_value,
)

if TYPE_CHECKING:
    from .importer import ExtractParser, ImportReport, ProgressCallback

# Lines go to the server a block at a time: one statement per block, memory bounded by it.
BLOCK_BYTES = 4 * 1024 * 1024
STAGE = "finess_stage"
ESTABLISHMENTS = "finess_stage_et"
ACCEPTED = "finess_stage_accepted"
GEOLOCATIONS = "finess_stage_geo"
GEOLOCATED = "finess_stage_geo_ok"
# What str.strip() removes (Unicode whitespace) and what bytes.strip() removes (a blank line).
UNICODE_SPACES = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
ASCII_SPACES = " \t\n\r\x0b\x0c"
# A line SQL cannot split like the parser: quoted fields (csv rules) or a NUL byte.
_SPECIAL_LINE = re.compile('^[^\n"\x00]*["\x00][^\n]*', re.MULTILINE)
# Shapes the SQL decides itself; other non-empty values are decided in Python.
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_FRENCH_DATE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_COORDINATE = r"^[+-]?[0-9]{1,10}(\.[0-9]{0,2})?$"


def _digit(expr: str, position: int) -> str:
    return f"(ascii(substr({expr}, {position}, 1)) - 48)"


def _luhn_sql(expr: str, length: int) -> str:
    """SQL: whether the ``length`` ASCII digits of ``expr`` pass the Luhn check (unrolled)."""
    terms = []
    for position in range(1, length + 1):
        digit = _digit(expr, position)
        if (length - position) % 2 == 1:  # every second digit from the right is doubled
            terms.append(f"({digit} * 2 - CASE WHEN {digit} > 4 THEN 9 ELSE 0 END)")
        else:
            terms.append(digit)
    return f"(mod({' + '.join(terms)}, 10) = 0)"


def _digit_sum_sql(expr: str, length: int) -> str:
    return f"({' + '.join(_digit(expr, p) for p in range(1, length + 1))})"


def _finess_error_sql(expr: str) -> str:
    """SQL: ``funding.identifiers.finess_error(expr)``, NULL for a valid number."""
    corsican = ", ".join(f"'{prefix}'" for prefix in CORSICAN_FINESS_PREFIXES)
    return f"""CASE
        WHEN length({expr}) <> 9 THEN %(finess_length)s
        WHEN left({expr}, 2) IN ({corsican}) THEN
            CASE WHEN substr({expr}, 3) ~ '^[0-9]+$' THEN NULL ELSE %(finess_corsican)s END
        WHEN {expr} !~ '^[0-9]+$' THEN %(finess_digits)s
        WHEN NOT {_luhn_sql(expr, 9)} THEN %(finess_key)s
    END"""


def _ymd_sql(expr: str) -> str:
    """SQL: ``[year, month, day]`` of a strict ISO or French value, NULL for any other value."""
    iso = f"substr({expr}, 1, 4)::int, substr({expr}, 6, 2)::int, substr({expr}, 9, 2)::int"
    french = f"substr({expr}, 7, 4)::int, substr({expr}, 4, 2)::int, substr({expr}, 1, 2)::int"
    return (
        f"CASE WHEN strpos({expr}, '/') = 0 AND left({expr}, 10) ~ '{_ISO_DATE}' "
        f"THEN ARRAY[{iso}] WHEN {expr} ~ '{_FRENCH_DATE}' THEN ARRAY[{french}] END"
    )


def _date_sql(ymd: str) -> str:
    """SQL: the date of ``[year, month, day]`` when it is one (2023-02-30 is not), else NULL.

    Plain expressions rather than a SQL function: a function whose arguments are used twice is
    not inlined, and calling it cost more than the rest of the line's checks.
    """
    first = f"make_date({ymd}[1], {ymd}[2], 1)"
    return (
        f"CASE WHEN {ymd}[1] >= 1 AND {ymd}[2] BETWEEN 1 AND 12 AND {ymd}[3] BETWEEN 1 AND 31 "
        f"AND extract(month FROM {first} + ({ymd}[3] - 1)) = {ymd}[2] "
        f"THEN {first} + ({ymd}[3] - 1) END"
    )


def _messages() -> dict[str, str]:
    """The identifier messages, from the functions the Python parser calls."""
    values = {
        "finess_length": "",
        "finess_corsican": "2AXXXXXXX",
        "finess_digits": "XXXXXXXXX",
        "finess_key": "000000001",
    }
    messages = {}
    for key, sample in values.items():
        message = finess_error(sample)
        assert message is not None, sample
        messages[key] = message
    return messages


class _Stager:
    """Cuts the parser's stream into blocks, stages their lines, judges the special ones."""

    def __init__(self, parser: ExtractParser, cursor: Any) -> None:
        self.parser = parser
        self.cursor = cursor
        self.rejects: list[Reject] = []
        self.nul_known = 0  # NUL lines of a known type (the parser counts them as known)

    def stage(self, progress: Callable[[], None]) -> None:
        number = 1  # the marker
        for block in self.parser.blocks(BLOCK_BYTES):
            text = self._decode(block)
            # Lines are numbered from the block's first one; the block ends with a line end.
            body = text[:-1]
            lines = body.count("\n") + 1
            if '"' in body or "\x00" in body:
                body = self._special(body, number)
            self.cursor.execute(
                f"INSERT INTO {STAGE} (line, f) "  # noqa: S608 - constant table name
                "SELECT %s + n, string_to_array(rtrim(l, E'\\r'), ';') "
                "FROM unnest(string_to_array(%s, E'\\n')) WITH ORDINALITY AS t(l, n) "
                "WHERE btrim(l, %s) <> ''",
                [number, body, ASCII_SPACES],
            )
            self.parser.lines_read += self.cursor.rowcount
            number += lines
            progress()

    def _decode(self, block: bytes) -> str:
        """The block's text; UTF-8 at once when it is, else line by line like the parser."""
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if not block.isascii():
                self.parser._utf8_lines += 1
            return text
        decoded = []
        for raw in block.split(b"\n"):
            line, latin1 = _decode(raw)
            if raw.strip():
                if latin1:
                    self.parser._latin1_lines += 1
                elif not raw.isascii():
                    self.parser._utf8_lines += 1
            decoded.append(line)
        return "\n".join(decoded)

    def _special(self, body: str, first: int) -> str:
        """Judge the lines with a quote or a NUL byte here; blank them in the staged text."""
        kept: list[str] = []
        rows: list[tuple[int, list[str]]] = []
        position = 0
        number = first
        for match in _SPECIAL_LINE.finditer(body):
            number += body.count("\n", position, match.start())
            kept.append(body[position : match.start()])
            position = match.end()
            text = match.group().rstrip("\r")
            self.parser.lines_read += 1
            if "\x00" in text:
                kind, reject = _nul_reject(number + 1, text)
                self.nul_known += kind in KNOWN_LINE_TYPES
                self.rejects.append(reject)
                continue
            try:
                fields = _split(text)
            except csv.Error as error:
                self.rejects.append(
                    Reject(
                        number + 1,
                        "ligne illisible : champ entre guillemets refusé par le lecteur CSV "
                        f"({error}), ligne ignorée",
                    )
                )
                continue
            rows.append((number + 1, fields))
        kept.append(body[position:])
        if rows:
            self.cursor.executemany(
                f"INSERT INTO {STAGE} (line, f) VALUES (%s, %s)",  # noqa: S608 - constant
                rows,
            )
        return "".join(kept)


def import_postgres(
    parser: ExtractParser,
    *,
    report: ImportReport,
    progress: ProgressCallback | None,
    total: int,
    connection: BaseDatabaseWrapper,
) -> None:
    """Stage, check and write the extract read by ``parser`` (after its marker), in SQL."""
    now = timezone.now()
    with connection.cursor() as cursor:
        for table in (STAGE, ESTABLISHMENTS, ACCEPTED, GEOLOCATIONS, GEOLOCATED):
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} (line integer, f text[]) ON COMMIT DROP")
        # The staging tables are small next to the referential: keep index scans on it.
        cursor.execute("SET LOCAL random_page_cost = 1.1")
        stager = _Stager(parser, cursor)

        def step() -> None:
            report.lines_read = parser.lines_read
            if progress is not None:
                progress(parser.bytes_read, total, report)

        stager.stage(step)
        cursor.execute(
            f"SELECT count(*) FROM {STAGE} WHERE lower(btrim(f[1], %s)) = ANY(%s)",  # noqa: S608
            [UNICODE_SPACES, sorted(KNOWN_LINE_TYPES)],
        )
        parser.known_lines = cursor.fetchone()[0] + stager.nul_known
        if not parser.known_lines:
            return  # the caller refuses the file
        _check_establishments(cursor)
        _check_geolocations(cursor)
        _collect_report(cursor, report, stager.rejects)
        _write(cursor, connection, report, now)
    report.lines_read = parser.lines_read
    if progress is not None:
        progress(parser.bytes_read, total, report)


def _params(**extra: Any) -> dict[str, Any]:
    return {"ws": UNICODE_SPACES, **_messages(), **extra}


def _check_establishments(cursor: Any) -> None:
    """``structureet`` lines: values and checks, then the accepted ones (first occurrence)."""
    address = (
        "concat_ws(', ', nullif(concat_ws(' ', "
        + ", ".join(f"nullif(btrim(f[{i}], %(ws)s), '')" for i in (8, 11, 9, 10))
        + "), ''), nullif(btrim(f[12], %(ws)s), ''))"
    )
    department = "upper(btrim(f[14], %(ws)s))"
    siret_ok = (
        f"(siret_raw ~ '^[0-9]{{14}}$' AND ({_luhn_sql('siret_raw', 14)} OR "
        f"(left(siret_raw, 9) = '{LA_POSTE_SIREN}' "
        f"AND mod({_digit_sum_sql('siret_raw', 14)}, 5) = 0)))"
    )
    siren_ok = f"(left(siret, 9) = '{LA_POSTE_SIREN}' OR {_luhn_sql('siret', 9)})"
    departements = Departement._meta.db_table
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {ESTABLISHMENTS} ON COMMIT DROP AS
        SELECT c.*,
               CASE WHEN siret <> '' AND {siren_ok} THEN left(siret, 9) ELSE '' END AS siren,
               {_date_sql("opened_ymd")} AS opened_on,
               {_date_sql("updated_ymd")} AS updated_on,
               -- The first line that passes every check but the duplicate one wins.
               min(line) FILTER (WHERE reject IS NULL AND name <> '')
                   OVER (PARTITION BY finess) AS first_ok
        FROM (
            SELECT b.*,
                CASE
                    WHEN ncol < {MIN_STRUCTURE_COLUMNS} THEN format(
                        'ligne tronquée : %%s colonnes au lieu d''au moins '
                        '{MIN_STRUCTURE_COLUMNS}', ncol)
                    WHEN {_finess_error_sql("finess")} IS NOT NULL THEN format(
                        'FINESS ET « %%s » invalide : %%s', finess,
                        {_finess_error_sql("finess")})
                    WHEN {_finess_error_sql("ej")} IS NOT NULL THEN format(
                        'FINESS EJ « %%s » invalide : %%s', ej, {_finess_error_sql("ej")})
                    WHEN NOT EXISTS (SELECT FROM {departements} d WHERE d.code = b.department)
                    THEN format('département inconnu « %%s » (%%s)', department_shown, finess)
                END AS reject,
                CASE WHEN {siret_ok} THEN siret_raw ELSE '' END AS siret,
                {_ymd_sql("opened_raw")} AS opened_ymd,
                {_ymd_sql("updated_raw")} AS updated_ymd
            FROM (
                SELECT line, cardinality(f) AS ncol,
                       upper(btrim(f[2], %(ws)s)) AS finess,
                       upper(btrim(f[3], %(ws)s)) AS ej,
                       btrim(f[14], %(ws)s) AS department_shown,
                       CASE WHEN (%(aliases)s::jsonb ->> {department}) IS NOT NULL
                            THEN %(aliases)s::jsonb ->> {department}
                            WHEN {department} ~ '^[0-9]$' THEN '0' || {department}
                            ELSE {department} END AS department,
                       coalesce(nullif(left(btrim(f[4], %(ws)s), 255), ''),
                                left(btrim(f[5], %(ws)s), 255)) AS name,
                       left(btrim(f[5], %(ws)s), 255) AS long_name,
                       left({address}, 255) AS address,
                       left(btrim(f[16], %(ws)s), 100) AS postal_line,
                       left(btrim(f[19], %(ws)s), 4) AS category_code,
                       btrim(f[23], %(ws)s) AS siret_raw,
                       btrim(f[29], %(ws)s) AS opened_raw,
                       btrim(f[31], %(ws)s) AS updated_raw
                FROM {STAGE}
                WHERE lower(btrim(f[1], %(ws)s)) = 'structureet'
                -- OFFSET 0 keeps each level a computed row: flattened, every use of a column
                -- below repeated its whole expression (a Luhn sum of Luhn sums), measured
                -- 34 s instead of under one for 20 000 lines.
                OFFSET 0
            ) b
            OFFSET 0
        ) c
        """,  # noqa: S608 - identifiers are constants, values are parameters
        _params(aliases=json.dumps(ETALAB_DEPARTMENT_ALIASES)),
    )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {ACCEPTED} ON COMMIT DROP AS
            SELECT * FROM {ESTABLISHMENTS} WHERE reject IS NULL AND line = first_ok;
        CREATE UNIQUE INDEX ON {ACCEPTED} (finess);
        CREATE UNIQUE INDEX ON {ACCEPTED} (line);
        ANALYZE {ACCEPTED};
        """  # noqa: S608
    )
    # Dates of another shape (« 20240115 », « 1/2/2024 »…) or not a date: the parser decides.
    cursor.execute(
        f"SELECT line, opened_raw, updated_raw FROM {ACCEPTED} "  # noqa: S608
        "WHERE (opened_raw <> '' AND opened_on IS NULL) "
        "OR (updated_raw <> '' AND updated_on IS NULL)"
    )
    lines, opened, updated = [], [], []
    for line, *raws in cursor.fetchall():
        dates: list[datetime.date | None] = []
        for raw in raws:
            try:
                dates.append(_parse_date(raw))
            except ValueError:
                dates.append(None)
        lines.append(line)
        opened.append(dates[0])
        updated.append(dates[1])
    if lines:
        cursor.execute(
            f"UPDATE {ACCEPTED} a SET opened_on = coalesce(v.opened, a.opened_on), "  # noqa: S608
            "updated_on = coalesce(v.updated, a.updated_on) "
            "FROM unnest(%s::integer[], %s::date[], %s::date[]) AS v (line, opened, updated) "
            "WHERE a.line = v.line",
            [lines, opened, updated],
        )


def _check_geolocations(cursor: Any) -> None:
    """``geolocalisation`` lines: the establishment accepted before each, its coordinates, and
    the first readable one of each establishment."""
    coordinate = "btrim(f[{}], %(ws)s)"
    x, y = coordinate.format(3), coordinate.format(4)
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {GEOLOCATIONS} ON COMMIT DROP AS
        SELECT g.line, g.ncol, g.finess, g.x_raw, g.y_raw, g.readable,
               CASE WHEN g.readable THEN g.x_trimmed::numeric(12, 2) END AS x,
               CASE WHEN g.readable THEN g.y_trimmed::numeric(12, 2) END AS y,
               NULL::text AS coordinate_reject, a.line AS establishment
        FROM (
            SELECT t.*, (x_trimmed ~ '{_COORDINATE}' AND y_trimmed ~ '{_COORDINATE}') AS readable
            FROM (
                SELECT line, cardinality(f) AS ncol, upper(btrim(f[2], %(ws)s)) AS finess,
                       f[3] AS x_raw, f[4] AS y_raw, {x} AS x_trimmed, {y} AS y_trimmed
                FROM {STAGE}
                WHERE lower(btrim(f[1], %(ws)s)) = 'geolocalisation'
                OFFSET 0
            ) t
            OFFSET 0
        ) g
        LEFT JOIN {ACCEPTED} a
               ON a.finess = g.finess AND a.line < g.line
              AND g.ncol >= {MIN_GEOLOCATION_COLUMNS}
        """,  # noqa: S608
        _params(),
    )
    # Other shapes (exponent, more decimals, « NaN »…): Decimal decides, as in the parser.
    cursor.execute(
        f"SELECT line, x_raw, y_raw FROM {GEOLOCATIONS} "  # noqa: S608
        "WHERE establishment IS NOT NULL AND readable IS NOT TRUE"
    )
    lines, xs, ys, reasons = [], [], [], []
    for line, x_raw, y_raw in cursor.fetchall():
        x_value, y_value, reason = _coordinates(x_raw, y_raw)
        lines.append(line)
        xs.append(x_value)
        ys.append(y_value)
        reasons.append(reason)
    if lines:
        cursor.execute(
            f"UPDATE {GEOLOCATIONS} g SET x = v.x, y = v.y, "  # noqa: S608
            "coordinate_reject = v.reason "
            "FROM unnest(%s::integer[], %s::numeric[], %s::numeric[], %s::text[]) "
            "AS v (line, x, y, reason) WHERE g.line = v.line",
            [lines, xs, ys, reasons],
        )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {GEOLOCATED} ON COMMIT DROP AS
            SELECT DISTINCT ON (finess) finess, line, x, y FROM {GEOLOCATIONS}
            WHERE establishment IS NOT NULL AND coordinate_reject IS NULL
                  AND x IS NOT NULL AND y IS NOT NULL
            ORDER BY finess, line;
        CREATE UNIQUE INDEX ON {GEOLOCATED} (finess);
        ANALYZE {GEOLOCATED};
        """  # noqa: S608
    )


def _coordinates(x_raw: str, y_raw: str) -> tuple[Decimal | None, Decimal | None, str | None]:
    """The parser's reading of two coordinates: (x, y, None) or (None, None, reason)."""
    try:
        x, y = (Decimal(raw.strip()).quantize(TWO_PLACES) for raw in (x_raw, y_raw))
    except InvalidOperation:
        return None, None, f"coordonnées illisibles « {x_raw} ; {y_raw} »"
    if not all(c.is_finite() and abs(c) < MAX_COORDINATE for c in (x, y)):
        return None, None, f"coordonnées hors limites « {x_raw} ; {y_raw} »"
    return x, y, None


def _collect_report(cursor: Any, report: ImportReport, python_rejects: list[Reject]) -> None:
    """Rejected lines and warnings, by line number, into the report."""
    rejects_sql = f"""
        SELECT line, format('type de ligne inconnu « %%s » (attendu : structureet ou '
                            'geolocalisation)', left(lower(btrim(f[1], %(ws)s)), 40))
        FROM {STAGE} WHERE NOT lower(btrim(f[1], %(ws)s)) = ANY(%(known)s)
        UNION ALL
        SELECT line, CASE
            WHEN reject IS NOT NULL THEN reject
            WHEN first_ok < line THEN format(
                'établissement %%s en double dans le fichier (déjà lu ligne %%s) : cette '
                'occurrence est ignorée', finess, first_ok)
            ELSE format('raison sociale absente (%%s)', finess) END
        FROM {ESTABLISHMENTS} WHERE first_ok IS DISTINCT FROM line
        UNION ALL
        SELECT g.line, CASE
            WHEN g.ncol < {MIN_GEOLOCATION_COLUMNS} THEN format(
                'ligne de géolocalisation tronquée : %%s colonnes au lieu d''au moins '
                '{MIN_GEOLOCATION_COLUMNS}', g.ncol)
            WHEN g.establishment IS NULL THEN format(
                'FINESS ET « %%s » invalide : %%s', g.finess, {_finess_error_sql("g.finess")})
            WHEN k.line < g.line THEN format(
                'géolocalisation de %%s en double dans le fichier', g.finess)
            ELSE g.coordinate_reject END
        FROM {GEOLOCATIONS} g LEFT JOIN {GEOLOCATED} k ON k.finess = g.finess
        WHERE g.ncol < {MIN_GEOLOCATION_COLUMNS}
           OR (g.establishment IS NULL AND {_finess_error_sql("g.finess")} IS NOT NULL)
           OR (g.establishment IS NOT NULL AND k.line IS DISTINCT FROM g.line)
    """  # noqa: S608
    params = _params(known=sorted(KNOWN_LINE_TYPES))
    cursor.execute(f"SELECT count(*) FROM ({rejects_sql}) r", params)  # noqa: S608
    counted = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT * FROM ({rejects_sql}) r ORDER BY 1 LIMIT {MAX_DETAILED_ENTRIES}",  # noqa: S608
        params,
    )
    rejects = [Reject(line, reason) for line, reason in cursor.fetchall()]
    rejects = sorted([*rejects, *python_rejects], key=lambda r: r.line)
    report.rejects = rejects[:MAX_DETAILED_ENTRIES]
    report.rejected = counted + len(python_rejects)

    warnings_sql = f"""
        SELECT line, 1, format('SIRET « %%s » invalide ignoré (%%s)', siret_raw, finess), 'siret'
        FROM {ACCEPTED} WHERE siret_raw <> '' AND siret = ''
        UNION ALL
        SELECT line, 2, format('date d''ouverture « %%s » illisible ignorée', opened_raw), 'date'
        FROM {ACCEPTED} WHERE opened_raw <> '' AND opened_on IS NULL
        UNION ALL
        SELECT line, 3, format('date de mise à jour « %%s » illisible ignorée', updated_raw),
               'date'
        FROM {ACCEPTED} WHERE updated_raw <> '' AND updated_on IS NULL
        UNION ALL
        SELECT line, 1, format('géolocalisation de %%s ignorée : établissement absent de '
                               'l''extrait ou rejeté', finess), 'geolocation'
        FROM {GEOLOCATIONS}
        WHERE ncol >= {MIN_GEOLOCATION_COLUMNS} AND establishment IS NULL
          AND {_finess_error_sql("finess")} IS NULL
    """  # noqa: S608
    cursor.execute(
        f"SELECT count(*), count(*) FILTER (WHERE kind = 'siret') "  # noqa: S608
        f"FROM ({warnings_sql}) w (line, rank, message, kind)",
        _params(),
    )
    report.warnings_count, report.invalid_sirets = cursor.fetchone()
    cursor.execute(
        f"SELECT line, message, kind FROM ({warnings_sql}) w (line, rank, message, kind) "  # noqa: S608
        f"ORDER BY line, rank LIMIT {MAX_DETAILED_ENTRIES}",
        _params(),
    )
    report.warnings = [LineWarning(*row) for row in cursor.fetchall()]
    cursor.execute(f"SELECT count(*) FROM {GEOLOCATED}")  # noqa: S608
    report.geolocated = cursor.fetchone()[0]


def _write(
    cursor: Any, connection: BaseDatabaseWrapper, report: ImportReport, now: datetime.datetime
) -> None:
    """Upsert the organisations, then the structures (with their geolocation)."""
    quote = connection.ops.quote_name
    categories = quote(FinessCategory._meta.db_table)
    cursor.execute(
        f"""
        SELECT a.category_code, c.code IS NOT NULL, c.casf_item_id IS NOT NULL, count(*)
        FROM {ACCEPTED} a LEFT JOIN {categories} c ON c.code = a.category_code
        GROUP BY 1, 2, 3
        """  # noqa: S608
    )
    for code, known, eligible, count in cursor.fetchall():
        if not known:
            report.unknown_categories[code] += count
        elif not eligible:
            report.not_essms += count
    _upsert_organisations(cursor, connection, report, now)
    _upsert_structures(cursor, connection, report, now)


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
    names, placeholders, params = _defaults_sql(connection, Structure, {"finess", *fields}, now)
    pk = q(Structure._meta.pk.column)
    current = ", ".join(f"t.{c}" for c in owned)
    incoming = ", ".join(f"EXCLUDED.{c}" for c in owned)
    stored = ", ".join(f"cur.{c}" for c in owned)
    cursor.execute(
        f"""
        INSERT INTO {structures} AS t ({", ".join([q("finess"), *owned, *names])})
        SELECT {", ".join(["a.finess", *values, *placeholders])}
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
            {", ".join(f"{c} = EXCLUDED.{c}" for c in owned)}, {q("updated_at")} = %s
        WHERE ({current}) IS DISTINCT FROM ({incoming})
        RETURNING (xmax = 0)
        """,  # noqa: S608 - identifiers come from the model, values are parameters
        [Structure.Source.FINESS.value, *params, Structure.Source.FINESS.value, now],
    )
    inserted = [flag for (flag,) in cursor.fetchall()]
    created = sum(inserted)
    cursor.execute(f"SELECT count(*) FROM {ACCEPTED}")  # noqa: S608
    accepted = cursor.fetchone()[0]
    report.created += created
    report.updated += len(inserted) - created
    report.unchanged += accepted - len(inserted)
