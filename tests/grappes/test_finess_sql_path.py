"""The SQL path of the FINESS import (PostgreSQL) gives the Python parser's report and rows.

Each file below is imported by both paths, each inside a transaction rolled back afterwards:
same counts, same rejected lines (number and reason), same warnings, same rows. The messy file
gathers the cases where SQL and Python could part ways (whitespace, case, quoting, encodings,
date and coordinate shapes, duplicates in every order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from essms_portal.identifiers import finess_with_key, siren_with_key, siret_with_key
from grappes.finess import postgres as finess_postgres
from grappes.finess.importer import ImportReport, finess_import
from grappes.models import Organisation, Structure
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


def test_blocks_cut_anywhere_give_the_same_report(tmp_path, monkeypatch):
    # Blocks of a few hundred bytes cut the file between many lines (and inside none).
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
