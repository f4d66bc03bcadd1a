"""The SQL path of the FINESS import (PostgreSQL) gives the Python parser's report and rows.

Each file below is imported by both paths, each inside a transaction rolled back afterwards:
same counts, same rejected lines (number and reason), same warnings, same rows. The messy file
gathers the cases where SQL and Python could part ways (whitespace, case, quoting, encodings,
date and coordinate shapes, duplicates in every order).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from essms_portal.identifiers import finess_with_key, siren_with_key, siret_with_key
from grappes.finess import postgres as finess_postgres
from grappes.finess.importer import ExtractParser, ImportReport, finess_import
from grappes.models import FinessCategory, Organisation, Structure
from scripts.generate_finess_extract import generate
from tests.grappes.helpers import EJ1, EJ2, ET1, ET2, ET3, MARKER, geo_line, structure_line

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL path is PostgreSQL's"),
]

ET = [finess_with_key(f"01000{n:03d}") for n in range(10, 40)]
SIRET = siret_with_key(siren_with_key("77700001") + "0001")
# La Poste: its own digit-sum rule, although not Luhn-valid.
LA_POSTE_SIRET = "35600000000000"
BAD_SIRET = SIRET[:-1] + str((int(SIRET[-1]) + 1) % 10)
BAD_KEY = ET1[:-1] + str((int(ET1[-1]) + 1) % 10)

STRUCTURE_FIELDS = (
    "finess", "organisation__finess", "siret", "name", "long_name", "category_id",
    "category_code", "eligible", "departement_id", "address", "postal_line", "opened_on",
    "finess_updated_on", "source", "lambert_x", "lambert_y",
)  # fmt: skip
ORGANISATION_FIELDS = ("finess", "name", "siren", "departement_id")
COUNTS = (
    "lines_read", "created", "updated", "unchanged", "rejected", "geolocated", "not_essms",
    "invalid_sirets", "warnings_count", "organisations_created",
)  # fmt: skip


def messy_lines() -> list[str]:
    lines = [
        structure_line(ET1, siret=SIRET),
        structure_line(ET2, ej=EJ2, name='"FOYER ""LES PINS"" ; ANNEXE"'),
        "",
        "   \t",
        geo_line(ET[0]),  # before its establishment: a warning
        structure_line(ET[0], name=" EHPAD\u00a0", long_name="EHPAD LONG\u00a0"),
        " StructureEJ ;x",  # unknown type, shown lowercased and stripped
        "STRUCTUREET" + structure_line(ET[1])[len("structureet") :],  # upper-case type
        ";".join(structure_line(ET[2]).split(";")[:30]),  # truncated
        structure_line(BAD_KEY),
        structure_line("2A0000001"),  # Corsican: shape only
        structure_line("2B00000X1"),
        structure_line("01A000001"),
        structure_line("0100001"),
        structure_line(ET[3], ej="12345"),
        structure_line(ET[4], department="9A"),
        structure_line(ET[5], department="1"),
        structure_line(ET[6], department=" 01 "),
        structure_line(ET[7], department="99"),
        structure_line(ET1, name="DOUBLON"),  # duplicate of line 2
        structure_line(ET[8], name="", long_name=""),  # no name: rejected …
        structure_line(ET[8], name="", long_name="NOM LONG"),  # … then accepted (long name)
        structure_line(ET[8], name="ENCORE"),  # duplicate
        structure_line(ET[9], siret=BAD_SIRET),
        structure_line(ET[10], siret=LA_POSTE_SIRET, ej=EJ2),
        structure_line(ET[11], siret="ABC"),
        structure_line(ET[12], opened="15/01/2020", updated="2020-02-30"),
        structure_line(ET[13], opened="20200115", updated="hier"),
        structure_line(ET[14], opened="2020-01-15T10:00", updated="1/2/2020"),
        structure_line(ET[15], opened="2020-01-15/x", updated=" 2021-03-04 "),
        structure_line(ET[16], category="697"),  # unknown category
        structure_line(ET[17], category="355"),  # not an ESSMS
        structure_line(ET[18], long_name="FOYER\rANNEXE"),  # lone CR inside a field
        structure_line(ET[19], name="<&> ' \\ \t"),
        geo_line(ET1),
        geo_line(ET1, x="2"),  # second geolocation: duplicate
        geo_line(BAD_KEY),  # invalid FINESS, no establishment
        geo_line(ET[29]),  # unknown establishment: a warning
        geo_line(ET[4], x="1.005", y="2.015"),  # rounded half to even, as Decimal does
        geo_line(ET[5], x="1e3", y=" -7 "),
        geo_line(ET[6], x="NaN"),
        geo_line(ET[6], x="abc"),  # after an unreadable one: still rejected on its own
        geo_line(ET[6], x="12,5"),
        geo_line(ET[6], x="5", y="6"),  # the first readable one wins
        geo_line(ET[7], x="1"),  # its establishment was rejected: a warning
        geo_line(ET[9], x="99999999999"),  # out of limits
        geo_line(ET[10], x="+12.", y="-0"),
        "geolocalisation;" + ET[11] + ";1",  # truncated
        geo_line(ET[12], x="1_000"),
        structure_line(ET[20], name="EHPAD\x00"),  # NUL byte
        structure_line(ET[21], long_name='"' + "A" * 200_000 + '"'),  # refused by csv
        structure_line(ET[22], name='"NON FERME'),
        structure_line(ET[23], name="À LA MAISON"),
    ]
    return lines


def write(path: Path, lines: list[str], *, latin1_line: int | None = None) -> Path:
    encoded = [line.encode("utf-8") for line in [MARKER, *lines]]
    if latin1_line is not None:
        encoded[latin1_line - 1] = [MARKER, *lines][latin1_line - 1].encode("latin-1")
    path.write_bytes(b"\n".join(encoded) + b"\n")
    return path


def outcome(path: Path, *, use_copy: bool, runs: int = 2) -> list[Any]:
    """Reports of ``runs`` imports in a row and the rows then, all rolled back."""
    results: list[Any] = []
    with transaction.atomic():
        for _ in range(runs):
            report = finess_import(path_or_stream=path, use_copy=use_copy)
            results.append(summary(report))
        results.append(list(Structure.objects.order_by("finess").values_list(*STRUCTURE_FIELDS)))
        results.append(
            list(Organisation.objects.order_by("finess").values_list(*ORGANISATION_FIELDS))
        )
        transaction.set_rollback(True)
    return results


def summary(report: ImportReport) -> dict[str, Any]:
    return {
        "counts": tuple(getattr(report, name) for name in COUNTS),
        "encoding": report.encoding,
        "unknown_categories": dict(report.unknown_categories),
        "rejects": [(r.line, r.reason) for r in report.rejects],
        "warnings": [(w.line, w.message, w.kind) for w in report.warnings],
        "text": report.as_text(),
    }


def assert_same(path: Path) -> list[Any]:
    python, sql = outcome(path, use_copy=False), outcome(path, use_copy=True)
    for index, (expected, got) in enumerate(zip(python, sql, strict=True)):
        assert got == expected, index
    return sql


def test_a_messy_file_gives_the_same_report_and_rows(tmp_path):
    first, second, structures, organisations = assert_same(write(tmp_path / "m.csv", messy_lines()))

    rejected = dict(first["rejects"])
    assert len(rejected) == first["counts"][4] > 20
    assert "octet nul" in rejected[51] and "illisible" in rejected[52]
    assert first["warnings"] and second["counts"][1:3] == (0, 0)  # nothing changes the 2nd time
    assert len(structures) == first["counts"][1] and organisations


def test_latin1_and_mixed_files_give_the_same_report(tmp_path):
    lines = [structure_line(ET1, name="RÉSIDENCE LES CHÊNES"), structure_line(ET2, name="ÉTÉ")]
    sql = assert_same(write(tmp_path / "mixed.csv", lines, latin1_line=2))
    assert sql[0]["encoding"].startswith("mixte")
    path = tmp_path / "latin1.csv"
    path.write_bytes(("\n".join([MARKER, *lines]) + "\n").encode("latin-1"))
    assert assert_same(path)[0]["encoding"] == "latin-1"


def test_cr_and_crlf_files_give_the_same_report(tmp_path):
    lines = [structure_line(ET1), structure_line(ET2), geo_line(ET1), "", structure_line(ET3)]
    path = tmp_path / "cr.csv"
    path.write_bytes("\r".join([MARKER, *lines]).encode())
    assert assert_same(path)[0]["counts"][1] == 3
    path.write_bytes(("\r\n".join([MARKER, *lines]) + "\r\n").encode())
    assert assert_same(path)[0]["counts"][1] == 3


def test_progress_steps_anywhere_give_the_same_report(tmp_path, monkeypatch):
    # A progress step every few hundred bytes: the report does not depend on where they fall.
    monkeypatch.setattr(finess_postgres, "BLOCK_BYTES", 700)
    lines = [line for line in messy_lines() if len(line) < 1_000]
    assert_same(write(tmp_path / "small.csv", lines))


def test_a_generated_extract_gives_the_same_report_and_rows(tmp_path):
    path = tmp_path / "generated.csv"
    generate(lines=1_500, out=path, encoding="latin-1", seed=3)
    first, *_ = assert_same(path)
    assert first["counts"][1] == 1_500


def test_an_existing_organisation_and_structure_are_completed_alike(tmp_path):
    Organisation.objects.create(finess=EJ1, name="Association Horizon", siren="")
    path = write(tmp_path / "first.csv", [structure_line(ET1), geo_line(ET1)])
    finess_import(path_or_stream=path, use_copy=False)
    changed = write(
        tmp_path / "changed.csv",
        [structure_line(ET1, siret=SIRET, name="NOUVEAU NOM"), structure_line(ET2)],
    )
    first, *_ = assert_same(changed)
    assert first["counts"][1:4] == (1, 1, 0)


# --- Re-import shortcut (Structure.finess_digest) and first-import bulk load -----------------


def checked_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The numbers of the structureet lines the parser checks from now on (spy, not a stub)."""
    checked: list[int] = []
    original = ExtractParser._establishment

    def spy(self: ExtractParser, number: int, fields: list[str]) -> Iterator[Any]:
        checked.append(number)
        yield from original(self, number, fields)

    monkeypatch.setattr(ExtractParser, "_establishment", spy)
    return checked


def read_geolocations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The numbers of the geolocalisation lines the parser reads from now on (spy)."""
    read: list[int] = []
    original = ExtractParser._geolocation

    def spy(self: ExtractParser, number: int, fields: list[str]) -> Any:
        read.append(number)
        return original(self, number, fields)

    monkeypatch.setattr(ExtractParser, "_geolocation", spy)
    return read


def test_a_reimport_checks_and_writes_only_the_changed_line(tmp_path, monkeypatch):
    lines = [structure_line(n) for n in ET[:5]] + [geo_line(ET[0])]
    finess_import(path_or_stream=write(tmp_path / "a.csv", lines))
    stamps = dict(Structure.objects.values_list("finess", "updated_at"))
    digests = dict(Structure.objects.values_list("finess", "finess_digest"))
    assert all(digests.values())
    checked = checked_lines(monkeypatch)

    lines[2] = structure_line(ET[2], name="EHPAD RENOMMÉ")
    report = finess_import(path_or_stream=write(tmp_path / "b.csv", lines))

    assert checked == [4]  # line 4 of the file (after the marker): the only one read again
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    after = dict(Structure.objects.values_list("finess", "updated_at"))
    assert [n for n in ET[:5] if after[n] != stamps[n]] == [ET[2]]
    assert Structure.objects.get(finess=ET[2]).name == "EHPAD RENOMMÉ"
    new_digests = dict(Structure.objects.values_list("finess", "finess_digest"))
    assert [n for n in ET[:5] if new_digests[n] != digests[n]] == [ET[2]]

    checked.clear()
    again = finess_import(path_or_stream=write(tmp_path / "b.csv", lines))
    assert checked == [] and (again.updated, again.unchanged) == (0, 5)


def test_lines_rejected_or_warned_about_are_checked_and_reported_every_time(tmp_path, monkeypatch):
    lines = [
        structure_line(ET[0]),
        structure_line(ET[1], siret=BAD_SIRET),  # a warning: no digest
        structure_line(ET[2], department="99"),  # rejected
        structure_line(ET[0]),  # the same line again: a duplicate, every time
        structure_line(ET[3], opened="hier"),  # a warning
    ]
    path = write(tmp_path / "a.csv", lines)
    checked = checked_lines(monkeypatch)
    first, second, *_ = assert_same(path)

    assert first["rejects"] == second["rejects"] and len(first["rejects"]) == 2
    assert first["warnings"] == second["warnings"] and len(first["warnings"]) == 2
    assert first["counts"][4:9] == second["counts"][4:9]  # rejected … warnings
    # The SQL path's second run (the last 5 lines checked) read all but the first line again.
    assert checked[-4:] == [3, 4, 5, 6]


def test_a_structure_edited_since_is_restored_like_before(tmp_path):
    lines = [structure_line(ET[0]), structure_line(ET[1]), geo_line(ET[0])]
    path = write(tmp_path / "a.csv", lines)
    finess_import(path_or_stream=path)
    edited = Structure.objects.get(finess=ET[0])
    edited.name = "NOM CORRIGÉ À LA MAIN"
    edited.save()  # updated_at moves: the stored digest no longer vouches for the row

    report = finess_import(path_or_stream=path)

    assert (report.updated, report.unchanged) == (1, 1)
    assert Structure.objects.get(finess=ET[0]).name == "EHPAD LES TILLEULS"


def test_the_referential_changing_under_unchanged_lines_is_applied_like_before(tmp_path):
    lines = [structure_line(ET[0]), structure_line(ET[1], ej=EJ2, siret=SIRET)]
    path = write(tmp_path / "a.csv", lines)
    finess_import(path_or_stream=path)
    FinessCategory.objects.filter(code="500").update(casf_item=None)  # no longer an ESSMS
    Organisation.objects.filter(finess=EJ2).update(siren="")  # blanked by hand

    first, second, structures, organisations = assert_same(path)

    assert first["counts"][1:4] == (0, 2, 0) and second["counts"][1:4] == (0, 0, 2)
    assert {row[7] for row in structures} == {False}  # eligible
    assert {row[0]: row[2] for row in organisations}[EJ2] == SIRET[:9]


def schema() -> list[Any]:
    """Indexes and foreign keys of the organisation and structure tables, as defined."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisvalid
            FROM pg_index i WHERE i.indrelid IN
                ('grappes_organisation'::regclass, 'grappes_structure'::regclass)
            UNION ALL
            SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
            WHERE conrelid IN ('grappes_organisation'::regclass, 'grappes_structure'::regclass)
            ORDER BY 1, 2
            """
        )
        return cursor.fetchall()


def test_a_first_import_rebuilds_the_indexes_and_keys_it_dropped(tmp_path):
    before = schema()
    assert any("gin_trgm_ops" in definition for _, definition, _ in before)
    assert not Structure.objects.exists() and not Organisation.objects.exists()

    path = tmp_path / "generated.csv"
    generate(lines=300, out=path, encoding="utf-8", seed=5)
    report = finess_import(path_or_stream=path)

    assert report.created == 300
    assert schema() == before
    # The foreign keys check again: a structure of an organisation that does not exist fails.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("UPDATE grappes_structure SET organisation_id = -1 WHERE id IN "
                       "(SELECT min(id) FROM grappes_structure)")  # fmt: skip


def test_coordinates_of_a_skipped_line_are_applied_then_skipped_in_turn(tmp_path, monkeypatch):
    lines = [structure_line(ET[0]), structure_line(ET[1]), geo_line(ET[0])]
    finess_import(path_or_stream=write(tmp_path / "a.csv", lines))
    checked, read = checked_lines(monkeypatch), read_geolocations(monkeypatch)

    moved = [*lines[:2], geo_line(ET[0], x="1.5"), geo_line(ET[1]), geo_line(ET[1], x="9")]
    report = finess_import(path_or_stream=write(tmp_path / "b.csv", moved))

    assert checked == [] and read == [4, 5, 6]  # the establishments' lines are skipped
    assert (report.updated, report.unchanged, report.geolocated, report.rejected) == (2, 0, 2, 1)
    assert Structure.objects.get(finess=ET[0]).lambert_x == Decimal("1.50")
    stamps = dict(Structure.objects.values_list("finess", "updated_at"))

    read.clear()
    again = finess_import(path_or_stream=write(tmp_path / "b.csv", moved))

    # Both geolocation lines as they were written are skipped; the duplicate is still read,
    # and rejected again.
    assert checked == [] and read == [6]
    assert (again.updated, again.unchanged, again.geolocated) == (0, 2, 2)
    assert [(r.line, r.reason) for r in again.rejects] == [
        (r.line, r.reason) for r in report.rejects
    ]
    assert dict(Structure.objects.values_list("finess", "updated_at")) == stamps
