"""Data exports of the back office: dossiers and their ESSMS lines, as CSV or XLSX.

The rows come from the user's scope (``selectors.review_queue`` → ``applications_reviewable_by``)
narrowed by the queue filters (``ApplicationQueueFilter``), so an export never shows a dossier
the queue would not. Rows are streamed: CSV through a StreamingHttpResponse, XLSX written
row by row into a zipped temporary file; memory stays flat with the row count.
"""

from __future__ import annotations

import csv
import datetime
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import IO, Any

from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from grappes.models import GrappeMembership, ProjectType

from ..models import Application, ProposedAmount
from ..workflow import Status

Row = Sequence[Any]
CHUNK = 500
DATASETS = ("dossiers", "essms")
FORMATS = ("csv", "xlsx")

DOSSIER_HEADER = (
    "N° dossier",
    "Appel à projets",
    "Région",
    "Grappe",
    "Porteur",
    "FINESS porteur",
    "Statut",
    "Déposé le",
    "Nombre d'ESSMS",
    "Note /100",
    "Montant calculé (€)",
    "Montant proposé (€)",
    "Instructeur",
    "N° de décision",
)
ESSMS_HEADER = (
    "N° dossier",
    "Appel à projets",
    "Région",
    "Grappe",
    "Statut",
    "FINESS ET",
    "ESSMS",
    "Gestionnaire",
    "Catégorie FINESS",
    "Item CASF L312-1",
    "Type de projet",
    "Part éligible",
    "Montant calculé (€)",
    "Montant proposé (€)",
)
# A cell starting with one of these is read as a formula by spreadsheets (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would evaluate (user-typed names are untrusted)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def _sum_of(field: str) -> Subquery:
    return Subquery(
        ProposedAmount.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(total=Sum(field))
        .values("total")[:1]
    )


def dossier_rows(queryset: QuerySet[Application]) -> Iterator[Row]:
    """One row per dossier of the (scoped, filtered) queue, header first."""
    statuses = dict(Status.choices)
    rows = (
        queryset.annotate(computed_total=_sum_of("computed"), proposed_total=_sum_of("proposed"))
        .order_by("pk")
        .values_list(
            "pk",
            "call__name",
            "call__region__name",
            "grappe__name",
            "grappe__porteur__name",
            "grappe__porteur__finess",
            "status",
            "submitted_at",
            "essms_count",
            "average_score",
            "computed_total",
            "proposed_total",
            "assignee__email",
            "decision__number",
        )
    )
    yield DOSSIER_HEADER
    for row in rows.iterator(chunk_size=CHUNK):
        (pk, call, region, grappe, porteur, finess, status, submitted, count, score, computed,
         proposed, assignee, number) = row  # fmt: skip
        yield (
            pk,
            call,
            region or "National",
            grappe,
            porteur,
            finess,
            statuses.get(status, status),
            timezone.localdate(submitted) if submitted else None,
            count,
            Decimal(score).quantize(Decimal("0.01")) if score is not None else None,
            int(computed) if computed is not None else None,
            int(proposed) if proposed is not None else None,
            assignee or "",
            number or "",
        )


def _chunks(iterator: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(iterator, size)):
        yield chunk


def essms_rows(queryset: QuerySet[Application]) -> Iterator[Row]:
    """One row per ESSMS of each dossier of the (scoped, filtered) queue, with the amounts the
    instructeur computed and proposed for it (empty before the proposal), header first."""
    statuses = dict(Status.choices)
    projects = dict(ProjectType.choices)
    dossiers = (
        queryset.order_by("pk")
        .values_list(
            "pk", "grappe_id", "call__name", "call__region__name", "grappe__name", "status"
        )
        .iterator(chunk_size=CHUNK)
    )
    yield ESSMS_HEADER
    for chunk in _chunks(dossiers, CHUNK):
        grappes = {grappe_id for _pk, grappe_id, *_ in chunk}
        by_grappe: dict[int, list[tuple[Any, ...]]] = {}
        for membership in (
            GrappeMembership.objects.filter(grappe_id__in=grappes)
            .order_by("grappe_id", "structure__finess")
            .values_list(
                "grappe_id",
                "structure__finess",
                "structure__name",
                "structure__organisation__name",
                "structure__category__code",
                "structure__category__label",
                "structure__category__casf_item_id",
                "project_type",
                "eligible_share",
            )
        ):
            by_grappe.setdefault(membership[0], []).append(membership[1:])
        amounts = {
            (application_id, line): (computed, proposed)
            for application_id, line, computed, proposed in ProposedAmount.objects.filter(
                application_id__in=[pk for pk, *_ in chunk], line__startswith="structure:"
            ).values_list("application_id", "line", "computed", "proposed")
        }
        for pk, grappe_id, call, region, grappe, status in chunk:
            for finess, name, organisation, code, label, item, project, share in by_grappe.get(
                grappe_id, []
            ):
                computed, proposed = amounts.get((pk, f"structure:{finess}"), (None, None))
                yield (
                    pk,
                    call,
                    region or "National",
                    grappe,
                    statuses.get(status, status),
                    finess,
                    name,
                    organisation,
                    f"{code} — {label}" if code else "",
                    item or "",
                    projects.get(project, project),
                    Decimal(share).normalize(),
                    int(computed) if computed is not None else None,
                    int(proposed) if proposed is not None else None,
                )


def rows_for(dataset: str, queryset: QuerySet[Application]) -> Iterator[Row]:
    """The rows of one dataset (``dossiers`` or ``essms``)."""
    return dossier_rows(queryset) if dataset == "dossiers" else essms_rows(queryset)


class _Echo:
    """A write-only pseudo-file: csv.writer hands back each formatted line."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")  # French spreadsheets read a decimal comma
    return _safe(value)


def csv_stream(rows: Iterable[Row]) -> Iterator[str]:
    """CSV lines (``;``-separated, UTF-8 with BOM for spreadsheets), one at a time."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


# The parts of a one-sheet workbook around its sheet (ECMA-376 SpreadsheetML, the minimal set
# Excel, LibreOffice and openpyxl open without repair): style 1 is the date format.
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    _XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    _XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _XML_HEAD + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    _XML_HEAD + f'<styleSheet xmlns="{_MAIN_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
# Characters XML 1.0 cannot carry: written as Excel's own escape ``_xHHHH_`` (a literal
# ``_xHHHH_`` in the text is itself escaped, as Excel does, so it reads back unchanged).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
# What to look for first, cheaply: a character class alone is a fast scan, while the alternation
# above tried its lookahead at every position (half of the XLSX writer's time, issue #13).
_XML_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _needs_excel_escape(text: str) -> bool:
    """Whether ``text`` holds anything ``_XML_ILLEGAL`` would escape."""
    return bool(_XML_ILLEGAL_CHARS.search(text)) or (
        "_x" in text and bool(_XML_ILLEGAL.search(text))
    )


_EXCEL_EPOCH = datetime.date(1899, 12, 30)
_XML_ROWS_PER_WRITE = 500


def _excel_escape(match: re.Match[str]) -> str:
    return f"_x{ord(match.group()):04X}_"


def _xml_text(value: str) -> str:
    """``value`` escaped for an XML text node or attribute (illegal characters apart)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _column_letters(index: int) -> str:
    """« A » for 0, « AA » for 26."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _text_tail(value: str) -> str:
    """What follows ``<c r="A1"`` for a text cell: inline text neutralised against formulas,
    escaped for XML, illegal characters as Excel's ``_xHHHH_``; ``xml:space="preserve"`` only
    when leading or trailing white space needs it (as openpyxl writes it). An empty text is an
    empty text cell (``None`` is no cell at all), as openpyxl wrote them."""
    if not value:
        return ' t="inlineStr"/>'
    if value.startswith(FORMULA_PREFIXES):
        value = f"'{value}"
    text = _xml_text(value)
    if _needs_excel_escape(text):
        text = _XML_ILLEGAL.sub(_excel_escape, text)
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f' t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _cell_tail(value: Any) -> str:
    """What follows ``<c r="A1"`` for any cell: text, number, boolean or date (an Excel serial,
    style 1); anything else as its text."""
    kind = type(value)
    if kind is str:
        return _text_tail(value)
    if kind is int:
        return f"><v>{value}</v></c>"
    if kind is float or kind is Decimal:
        # As openpyxl wrote them: a double, 16 significant digits (« 30 » for 30.00).
        return f"><v>{float(value):.16g}</v></c>"
    if kind is bool:
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime.datetime):
        delta = value.replace(tzinfo=None) - datetime.datetime(1899, 12, 30)
        return f' s="1"><v>{delta.days + delta.seconds / 86400!r}</v></c>'
    if isinstance(value, datetime.date):
        return f' s="1"><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    return _text_tail(str(value))


#: Distinct texts whose cell markup is kept (call, region, status, category… repeat on every
#: row); past this many the memo starts again, so memory stays bounded on any export.
_TEXT_MEMO_SIZE = 50_000
RowWriter = Callable[[int, Row], str]


class _SheetWriter:
    """The ``<row>`` markup of a sheet's rows, fast enough for a national export.

    Per row, a function compiled once per *shape* of row — the type of each cell — writes the
    whole ``<row>`` in one f-string: cell references, numbers inline, ``None`` cells left out,
    text through a memo of its escaped markup (most texts repeat). Only the types shape the
    code; values are always arguments, never code. On the national seed's rows (30 592 rows,
    14 columns) the whole workbook took 1.27 s of CPU written cell by cell with a search of
    every chunk for characters XML cannot carry, 0.68 s this way, where only each new text is
    searched (issue #13)."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.writers: dict[tuple[type, ...], RowWriter] = {}

    def text(self, value: str) -> str:
        """A text cell's markup after its reference, memoised."""
        if len(self.texts) >= _TEXT_MEMO_SIZE:
            self.texts.clear()
        tail = self.texts[value] = _text_tail(value)
        return tail

    def rows(self, rows: Iterable[Row], after: int) -> str:
        """The markup of ``rows``, numbered from ``after + 1``."""
        writers, parts = self.writers, []
        for number, row in enumerate(rows, after + 1):
            shape = tuple(map(type, row))
            writer = writers.get(shape) or writers.setdefault(shape, self._compile(shape))
            parts.append(writer(number, row))
        return "".join(parts)

    def _compile(self, shape: tuple[type, ...]) -> RowWriter:
        """``row_xml(n, row)`` for rows of this shape: one f-string, one cell per column."""
        names = [f"v{index}" for index in range(len(shape))]
        cells = []
        for index, (name, kind) in enumerate(zip(names, shape, strict=True)):
            ref = f'<c r="{_column_letters(index)}{{n}}"'
            if kind is type(None):
                continue
            if kind is str:
                cells.append(f"{ref}{{texts.get({name}) or text({name})}}")
            elif kind is int:
                cells.append(f"{ref}><v>{{{name}}}</v></c>")
            elif kind is float or kind is Decimal:
                cells.append(f"{ref}><v>{{float({name}):.16g}}</v></c>")
            else:
                cells.append(f"{ref}{{cell({name})}}")
        unpack = "".join(f"{name}, " for name in names)
        source = (
            f"def row_xml(n, row):\n"
            f"    {unpack}= row\n"
            f"    return f'<row r=\"{{n}}\">{''.join(cells)}</row>'\n"
        )
        namespace: dict[str, Any] = {"texts": self.texts, "text": self.text, "cell": _cell_tail}
        exec(compile(source, "<xlsx row>", "exec"), namespace)  # noqa: S102 - built from types
        return namespace["row_xml"]  # type: ignore[no-any-return]


#: Deflate level of the XLSX entries: the XML is very repetitive, it still shrinks about tenfold
#: at level 1, several times faster than the default 6.
XLSX_COMPRESSLEVEL = 1


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry dated 1980-01-01 (the format's first date) rather than now: the same rows
    give the same bytes, so a file downloaded twice (a payment batch) has one checksum."""
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    # A ZipInfo brings its own level (the archive's is only given to names): level 1, as below.
    # Python 3.11 has no public attribute for it (3.13 names it ``compress_level``).
    entry._compresslevel = XLSX_COMPRESSLEVEL  # type: ignore[attr-defined]
    return entry


def xlsx_file(rows: Iterable[Row], *, title: str) -> IO[bytes]:
    """An XLSX workbook of one sheet in a temporary file, rewound; it disappears when closed.

    The sheet's XML is written here, row by row, straight into the zip entry (memory stays flat
    with the row count): measured on the national seed (30 593 ESSMS rows, 14 columns) openpyxl's
    write-only mode took 11 s to write it and XlsxWriter's constant-memory mode 5 s — both build
    and check one object per cell —, this writer well under a second. Cells hold what openpyxl
    wrote: inline text (neutralised against formulas), numbers for ints and Decimals, booleans,
    dates as date serials formatted ``yyyy-mm-dd``; empty cells for ``None``.
    """
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - returned open, closed by the response
    name = _XML_ILLEGAL.sub("", _xml_text(title[:31]).replace('"', "&quot;"))
    workbook = (
        _XML_HEAD + f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><sheets>'
        f'<sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    with zipfile.ZipFile(
        handle, "w", zipfile.ZIP_DEFLATED, compresslevel=XLSX_COMPRESSLEVEL
    ) as archive:
        archive.writestr(_entry("[Content_Types].xml"), _CONTENT_TYPES)
        archive.writestr(_entry("_rels/.rels"), _ROOT_RELS)
        archive.writestr(_entry("xl/workbook.xml"), workbook)
        archive.writestr(_entry("xl/_rels/workbook.xml.rels"), _WORKBOOK_RELS)
        archive.writestr(_entry("xl/styles.xml"), _STYLES)
        with archive.open(_entry("xl/worksheets/sheet1.xml"), "w", force_zip64=True) as sheet:
            sheet.write(f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}"><sheetData>'.encode())
            writer, number = _SheetWriter(), 0
            for chunk in _chunks(iter(rows), _XML_ROWS_PER_WRITE):
                sheet.write(writer.rows(chunk, number).encode())
                number += len(chunk)
            sheet.write(b"</sheetData></worksheet>")
    handle.seek(0)
    return handle
