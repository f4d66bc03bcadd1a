"""The XLSX writer's compiled rows (issue #13): one function per shape of row writes each
``<row>``; what openpyxl reads back must be what was given, whatever the mix of shapes."""

from __future__ import annotations

import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from django.utils.safestring import mark_safe
from openpyxl import load_workbook

from applications.reporting import exports


def _written(rows: list[tuple[object, ...]]) -> tuple[list[tuple[object, ...]], str]:
    """(the rows openpyxl reads back, the sheet's XML) of an XLSX of ``rows``."""
    with exports.xlsx_file(rows, title="essms") as handle:
        sheet = zipfile.ZipFile(handle).read("xl/worksheets/sheet1.xml").decode()
        handle.seek(0)
        workbook = load_workbook(handle, read_only=True)
        got = list(workbook.active.iter_rows(values_only=True))
        workbook.close()
    return got, sheet


def _as_read(value: object) -> object:
    """What a spreadsheet gives back for a written value: numbers as numbers, dates as
    datetimes, formulas neutralised, empty text as no value."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = str(value)
        if not text:
            return None
        return f"'{text}" if text.startswith(exports.FORMULA_PREFIXES) else text
    return value


def test_rows_of_every_shape_read_back_as_written():
    """The same column holds text, then nothing, then a number, then a date; rows differ in
    length; a ``str`` subclass and booleans go through the generic path."""
    rows: list[tuple[object, ...]] = [
        ("Texte", "Nombre", "Date", "Divers"),
        ("Île-de-France", 25_000, datetime.date(2024, 2, 29), Decimal("0.50")),
        (None, None, None, None),
        (12, "", datetime.datetime(2024, 3, 1, 12, 0), True),
        ("=1+1", Decimal("30.00"), None, False),
        (mark_safe("<b>sûr</b>"), 1.25, "texte", None),
        ("court",),
        ("Île-de-France", 25_000, datetime.date(2024, 2, 29), Decimal("0.50"), "en plus"),
    ]
    got, _sheet = _written(rows)
    assert len(got) == len(rows)
    width = max(len(row) for row in rows)
    for read, row in zip(got, rows, strict=True):
        # A reader pads short rows with empty cells (a row of None has no cell at all).
        expected = tuple(_as_read(value) for value in row) + (None,) * (width - len(row))
        assert read + (None,) * (width - len(read)) == expected


def test_cell_values_are_arguments_never_code():
    """Row functions are compiled from the cells' types only: text that looks like Python or
    like an f-string placeholder is written as it is."""
    tricky = ("{n}", "{__import__('os').getcwd()}", "'''", '"""', "\\n", "{{v0}}", "}")
    got, _sheet = _written([("Texte",), *((text,) for text in tricky)])
    assert [row[0] for row in got[1:]] == list(tricky)


def test_white_space_is_preserved_only_where_a_reader_could_lose_it():
    got, sheet = _written([("Texte",), (" espace ",), ("sans espace",), ("fin\t",)])
    assert [row[0] for row in got[1:]] == [" espace ", "sans espace", "fin\t"]
    assert '<t xml:space="preserve"> espace </t>' in sheet
    assert "<t>sans espace</t>" in sheet
    assert '<t xml:space="preserve">fin\t</t>' in sheet


def test_the_text_memo_is_bounded_and_values_stay_right(monkeypatch):
    """Past its size the memo of escaped texts starts again: memory stays bounded and every
    cell still reads back right (including texts seen before the reset)."""
    monkeypatch.setattr(exports, "_TEXT_MEMO_SIZE", 5)
    rows = [("Texte", "Autre")] + [(f"valeur {n % 7} & co", f"<{n}>") for n in range(60)]
    got, _sheet = _written(rows)
    assert got == [tuple(row) for row in rows]


def test_a_large_sheet_reads_back_row_for_row():
    """Thousands of rows over several write chunks: numbering and values carry across."""
    rows = [("N°", "Nom", "Montant", "Part")] + [
        (n, f"EHPAD n° {n}", n * 1000 if n % 3 else None, Decimal(n % 4) / 4)
        for n in range(1, 2 * exports._XML_ROWS_PER_WRITE + 7)
    ]
    got, sheet = _written(rows)
    assert len(got) == len(rows)
    for read, row in zip(got, rows, strict=True):
        assert read == tuple(_as_read(value) for value in row)
    last = len(rows)
    assert f'<row r="{last}"><c r="A{last}"><v>{last - 1}</v></c>' in sheet


@pytest.mark.parametrize("title", ["essms", "dossiers & <co>"])
def test_the_archive_is_valid_and_deterministic(title):
    rows = [("Texte", "Montant"), ("a", 25_000), ("b", Decimal("0.5")), ("c", None)]
    with exports.xlsx_file(rows, title=title) as first:
        one = first.read()
    with exports.xlsx_file(rows, title=title) as second:
        two = second.read()
    assert one == two
    assert zipfile.ZipFile(io.BytesIO(one)).testzip() is None
