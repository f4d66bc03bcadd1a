"""The FINESS extract import (domain.md §8), on hand-written extract files.

Every scenario runs with the portable writer and, on PostgreSQL, with the COPY writer too: both
must leave the same rows and report the same counts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import random
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DataError, connection

from essms_portal.identifiers import (
    finess_error,
    finess_with_key,
    is_valid_siren,
    is_valid_siret,
    siren_with_key,
    siret_with_key,
)
from funding.identifiers import luhn_is_valid
from grappes.finess import importer as module
from grappes.finess.importer import NotAFinessExtract, finess_import
from grappes.models import Organisation, Structure
from scripts.generate_finess_extract import generate
from tests.grappes.finess_poison import poisoned_structure
from tests.grappes.helpers import (
    EJ1,
    EJ2,
    ET1,
    ET2,
    ET3,
    MARKER,
    geo_line,
    structure_line,
    write_extract,
)

pytestmark = pytest.mark.django_db

SIRET1 = siret_with_key(siren_with_key("77700001") + "0001")


# The COPY writer only exists on PostgreSQL (no skipped test on SQLite: CI counts skips).
WRITERS = ["orm", "copy"] if connection.vendor == "postgresql" else ["orm"]


@pytest.fixture(params=WRITERS)
def use_copy(request: pytest.FixtureRequest) -> bool:
    return request.param == "copy"


def run(path: Path, use_copy: bool, **kwargs: object) -> module.ImportReport:
    return finess_import(path_or_stream=path, use_copy=use_copy, **kwargs)


def test_creates_structures_and_their_organisation(tmp_path, use_copy):
    path = write_extract(
        tmp_path,
        [
            structure_line(ET1, siret=SIRET1, long_name="EHPAD LES TILLEULS DE VIRIAT"),
            structure_line(ET2, category="355", name="CH DE BOURG"),
        ],
    )
    report = run(path, use_copy)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (2, 0, 0, 0)
    assert report.lines_read == 2
    assert report.organisations_created == 1
    ehpad = Structure.objects.select_related("organisation").get(finess=ET1)
    assert ehpad.name == "EHPAD LES TILLEULS"
    assert ehpad.long_name == "EHPAD LES TILLEULS DE VIRIAT"
    assert ehpad.address == "12 B R DE LA PAIX, LIEU-DIT LES PRES"
    assert ehpad.postal_line == "01440 VIRIAT"
    assert ehpad.siret == SIRET1
    assert (ehpad.category_id, ehpad.category_code, ehpad.eligible) == ("500", "500", True)
    assert ehpad.departement_id == "01"
    assert ehpad.opened_on == datetime.date(2001, 2, 3)
    assert ehpad.finess_updated_on == datetime.date(2020, 5, 6)
    assert ehpad.source == Structure.Source.FINESS
    assert ehpad.organisation.finess == EJ1
    assert ehpad.organisation.name == f"Entité juridique {EJ1}"
    assert ehpad.organisation.siren == SIRET1[:9]
    # A health establishment is kept, with its category, but is not an eligible ESSMS.
    hospital = Structure.objects.get(finess=ET2)
    assert (hospital.category_id, hospital.eligible) == ("355", False)
    assert report.not_essms == 1


def test_quoted_fields_with_doubled_quotes(tmp_path, use_copy):
    path = write_extract(
        tmp_path,
        [
            structure_line(ET1, name='"LIEU DE VIE ""LES PINS"""'),
            structure_line(ET2, name='"FOYER ; ANNEXE"'),
        ],
    )
    report = run(path, use_copy)

    assert report.rejected == 0
    assert Structure.objects.get(finess=ET1).name == 'LIEU DE VIE "LES PINS"'
    assert Structure.objects.get(finess=ET2).name == "FOYER ; ANNEXE"


def test_overseas_etalab_codes_map_to_insee_departments(tmp_path, use_copy):
    guadeloupe, saint_pierre = finess_with_key("97100001"), finess_with_key("97500001")
    path = write_extract(
        tmp_path,
        [
            structure_line(guadeloupe, department="9A"),
            structure_line(saint_pierre, department="9E", category="354"),
        ],
    )
    run(path, use_copy)

    first = Structure.objects.select_related("departement").get(finess=guadeloupe)
    assert (first.departement_id, first.departement.region_id) == ("971", "01")
    second = Structure.objects.select_related("departement").get(finess=saint_pierre)
    assert (second.departement_id, second.departement.region_id) == ("975", None)


def test_latin1_file(tmp_path, use_copy):
    path = write_extract(
        tmp_path,
        [structure_line(ET1, name="RÉSIDENCE LES CHÊNES", long_name="RÉSIDENCE « LES CHÊNES »")],
        encoding="latin-1",
    )
    report = run(path, use_copy)

    assert report.encoding == "latin-1"
    structure = Structure.objects.get(finess=ET1)
    assert structure.name == "RÉSIDENCE LES CHÊNES"
    assert structure.long_name == "RÉSIDENCE « LES CHÊNES »"


def test_utf8_with_bom_and_crlf_line_ends(tmp_path, use_copy):
    path = tmp_path / "crlf.csv"
    body = "\r\n".join([MARKER, structure_line(ET1, name="MAISON D'ACCUEIL ÉMILE"), ""])
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    report = run(path, use_copy)

    assert (report.encoding, report.created, report.rejected) == ("utf-8", 1, 0)
    assert Structure.objects.get(finess=ET1).name == "MAISON D'ACCUEIL ÉMILE"


def test_unknown_category_is_stored_not_eligible_and_counted(tmp_path, use_copy):
    path = write_extract(tmp_path, [structure_line(ET1, category="697")])
    report = run(path, use_copy)

    assert (report.created, report.rejected) == (1, 0)
    assert report.unknown_categories == {"697": 1}
    structure = Structure.objects.get(finess=ET1)
    assert (structure.category_id, structure.category_code, structure.eligible) == (
        None,
        "697",
        False,
    )
    assert "697 (1)" in report.as_text()


def test_rejected_lines_carry_their_number_and_reason(tmp_path, use_copy):
    wrong_key = ET2[:-1] + str((int(ET2[-1]) + 1) % 10)
    path = write_extract(
        tmp_path,
        [
            structure_line(ET1),  # line 2
            structure_line(wrong_key),  # line 3: wrong FINESS key
            ";".join(structure_line(ET3).split(";")[:20]),  # line 4: truncated
            structure_line(ET1, name="AUTRE NOM"),  # line 5: ET already read line 2
            structure_line(ET3, department="99"),  # line 6: unknown département
            structure_line(ET3, ej="12345"),  # line 7: malformed EJ
            "structureej;010000024;ENTITE",  # line 8: not an establishment line
        ],
    )
    report = run(path, use_copy)

    assert (report.created, report.rejected) == (1, 6)
    reasons = {reject.line: reject.reason for reject in report.rejects}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "clé de contrôle" in reasons[3]
    assert "tronquée" in reasons[4]
    assert "double" in reasons[5] and "ligne 2" in reasons[5]
    assert "département inconnu" in reasons[6]
    assert "FINESS EJ" in reasons[7]
    assert "type de ligne inconnu" in reasons[8]
    # The first occurrence of a duplicated establishment wins.
    assert Structure.objects.get(finess=ET1).name == "EHPAD LES TILLEULS"


def test_invalid_siret_is_dropped_with_a_warning(tmp_path, use_copy):
    bad = SIRET1[:-1] + str((int(SIRET1[-1]) + 1) % 10)
    path = write_extract(tmp_path, [structure_line(ET1, siret=bad)])
    report = run(path, use_copy)

    assert (report.created, report.rejected, report.invalid_sirets) == (1, 0, 1)
    assert report.warnings[0].line == 2
    structure = Structure.objects.select_related("organisation").get(finess=ET1)
    assert structure.siret == ""
    assert structure.organisation.siren == ""


def test_geolocalisation_lines_store_lambert_93(tmp_path, use_copy):
    path = write_extract(
        tmp_path,
        [
            structure_line(ET1),
            structure_line(ET2),
            geo_line(ET1),
            geo_line(ET3),  # an establishment the file does not list: ignored, warned
            geo_line(ET2, x="abc"),  # unreadable coordinates: rejected
        ],
    )
    report = run(path, use_copy)

    structure = Structure.objects.get(finess=ET1)
    assert (structure.lambert_x, structure.lambert_y) == (
        Decimal("869907.70"),
        Decimal("6563546.10"),
    )
    assert Structure.objects.get(finess=ET2).lambert_x is None
    assert (report.created, report.geolocated, report.rejected) == (2, 1, 1)
    assert [w.line for w in report.warnings] == [5]
    assert report.rejects[0].line == 6


def test_reimport_changes_nothing(tmp_path, use_copy):
    path = write_extract(
        tmp_path,
        [
            structure_line(ET1, siret=SIRET1),
            structure_line(ET2),
            structure_line(ET3),
            geo_line(ET1),
        ],
    )
    run(path, use_copy)
    stamps = dict(Structure.objects.values_list("finess", "updated_at"))

    report = run(path, use_copy)

    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert (report.organisations_created, report.organisations_updated) == (0, 0)
    assert not report.changed
    assert dict(Structure.objects.values_list("finess", "updated_at")) == stamps
    assert "0 créé, 0 mis à jour, 3 inchangés" in report.as_text()


def test_one_changed_line_updates_exactly_one_structure(tmp_path, use_copy):
    lines = [structure_line(ET1), structure_line(ET2), structure_line(ET3)]
    run(write_extract(tmp_path, lines), use_copy)
    stamps = dict(Structure.objects.values_list("finess", "updated_at"))

    lines[1] = structure_line(ET2, name="EHPAD LES TILLEULS (RENOMME)", updated="2024-01-10")
    report = run(write_extract(tmp_path, lines), use_copy)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    changed = Structure.objects.get(finess=ET2)
    assert changed.name == "EHPAD LES TILLEULS (RENOMME)"
    assert changed.finess_updated_on == datetime.date(2024, 1, 10)
    assert changed.updated_at > stamps[ET2]
    for finess in (ET1, ET3):
        assert Structure.objects.get(finess=finess).updated_at == stamps[finess]


def test_a_new_geolocation_counts_as_one_update(tmp_path, use_copy):
    lines = [structure_line(ET1), structure_line(ET2), geo_line(ET1)]
    run(write_extract(tmp_path, lines), use_copy)

    report = run(
        write_extract(tmp_path, [*lines[:2], geo_line(ET1, x="1.5"), geo_line(ET2)]), use_copy
    )

    assert (report.created, report.updated, report.unchanged, report.geolocated) == (0, 2, 0, 2)
    assert Structure.objects.get(finess=ET1).lambert_x == Decimal("1.50")


def test_existing_organisation_keeps_its_name_and_gets_its_siren(tmp_path, use_copy):
    Organisation.objects.create(finess=EJ1, name="Association Horizon", siren="")
    path = write_extract(tmp_path, [structure_line(ET1), structure_line(ET2, siret=SIRET1)])
    report = run(path, use_copy)

    organisation = Organisation.objects.get(finess=EJ1)
    assert (organisation.name, organisation.siren) == ("Association Horizon", SIRET1[:9])
    assert organisation.departement_id == "01"
    assert (report.organisations_created, report.organisations_updated) == (0, 1)


def test_small_batches_give_the_same_result(tmp_path, use_copy, monkeypatch):
    monkeypatch.setattr(module, "BATCH_SIZE", 2)
    lines = [
        structure_line(ET1),
        structure_line(ET2, ej=EJ2),
        structure_line(ET3, siret=SIRET1),
        structure_line(finess_with_key("01000004"), ej=EJ2),
        structure_line(finess_with_key("01000005")),
        geo_line(ET1),
        geo_line(ET1, x="2"),  # line 8: a second geolocation of ET1, rejected
        geo_line(ET3),
    ]
    seen: list[tuple[int, int]] = []
    report = run(
        write_extract(tmp_path, lines), use_copy, progress=lambda d, t, _report: seen.append((d, t))
    )

    assert (report.created, report.rejected, report.geolocated) == (5, 1, 2)
    assert report.rejects[0].line == 8 and "en double" in report.rejects[0].reason
    assert Organisation.objects.count() == 2
    assert Organisation.objects.get(finess=EJ1).siren == SIRET1[:9]
    assert Structure.objects.get(finess=ET1).lambert_x == Decimal("869907.70")
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == seen[-1][1] > 0

    again = run(write_extract(tmp_path, lines), use_copy)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def test_not_an_extract_stops_before_writing(tmp_path, use_copy):
    path = tmp_path / "other.csv"
    path.write_bytes(("\n".join(["nom;prenom", structure_line(ET1)]) + "\n").encode())

    with pytest.raises(NotAFinessExtract) as error:
        run(path, use_copy)

    assert "finess;etalab;" in error.value.message
    assert Structure.objects.count() == 0
    assert Organisation.objects.count() == 0


def test_dry_run_writes_nothing_but_reports_the_counts(tmp_path, use_copy):
    path = write_extract(tmp_path, [structure_line(ET1), structure_line(ET2), geo_line(ET1)])
    report = run(path, use_copy, dry_run=True)

    assert (report.created, report.geolocated, report.dry_run) == (2, 1, True)
    assert Structure.objects.count() == 0
    assert Organisation.objects.count() == 0


# --- The command ---------------------------------------------------------------------------


def test_command_reports_counts_and_rejected_line_numbers(tmp_path):
    path = write_extract(
        tmp_path,
        [structure_line(ET1), structure_line(ET1), ";".join(structure_line(ET2).split(";")[:9])],
    )
    out = StringIO()
    call_command("import_finess", str(path), stdout=out)

    text = out.getvalue()
    assert "1 créé, 0 mis à jour, 0 inchangé, 2 rejetés" in text
    assert "ligne 3 :" in text and "en double" in text
    assert "ligne 4 :" in text and "tronquée" in text


def test_command_second_run_says_nothing_changed(tmp_path):
    path = write_extract(tmp_path, [structure_line(ET1), structure_line(ET2), structure_line(ET3)])
    call_command("import_finess", str(path), "--quiet", stdout=StringIO())
    out = StringIO()
    call_command("import_finess", str(path), "--quiet", stdout=out)

    assert "0 créé, 0 mis à jour, 3 inchangés" in out.getvalue()
    assert "Aucun changement" in out.getvalue()


def test_command_dry_run_writes_nothing(tmp_path):
    path = write_extract(tmp_path, [structure_line(ET1)])
    out = StringIO()
    call_command("import_finess", str(path), "--dry-run", stdout=out)

    assert "Simulation" in out.getvalue()
    assert "1 créé" in out.getvalue()
    assert Structure.objects.count() == 0


def test_command_refuses_a_file_that_is_not_an_extract_with_exit_code_2(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a csv at all")

    with pytest.raises(CommandError) as error:
        call_command("import_finess", str(path), stdout=StringIO())

    assert error.value.returncode == 2
    assert "n'est pas un extrait FINESS" in str(error.value)
    assert Structure.objects.count() == 0


def test_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("import_finess", str(tmp_path / "absent.csv"), stdout=StringIO())

    assert error.value.returncode == 1
    assert "Lecture impossible" in str(error.value)


# --- All or nothing, bad lines, unreadable files (issue #10, finding 7) ---------------------


@pytest.fixture(scope="module")
def generated_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic extract of 2 500 establishments and their geolocations: three batches."""
    path = tmp_path_factory.mktemp("generated") / "extract.csv"
    generate(lines=2_500, out=path, encoding="utf-8", seed=10)
    return path


def with_bytes_in_line(source: Path, target: Path, number: int, column: int, data: bytes) -> Path:
    """``source`` with ``data`` inserted at the start of column ``column`` (0-based) of a line."""
    lines = source.read_bytes().split(b"\n")
    fields = lines[number - 1].split(b";")
    fields[column] = data + fields[column]
    lines[number - 1] = b";".join(fields)
    target.write_bytes(b"\n".join(lines))
    return target


def establishment_lines(path: Path) -> list[int]:
    """Line numbers of the structureet lines."""
    return [
        n for n, line in enumerate(path.read_bytes().split(b"\n"), 1) if line.startswith(b"str")
    ]


def test_a_nul_byte_rejects_its_line_and_the_rest_is_imported(
    tmp_path, use_copy, generated_extract
):
    # The finding: a NUL byte on line 2051 crashed the COPY with a psycopg.DataError after the
    # first batch was committed. Now the line is reported and skipped, the others imported.
    assert 2051 in establishment_lines(generated_extract)
    path = with_bytes_in_line(generated_extract, tmp_path / "nul.csv", 2051, 3, b"EHPAD\x00")
    clean = run(generated_extract, use_copy, dry_run=True)
    assert clean.rejected == 0 and clean.created == 2_500  # the generated file is clean

    report = run(path, use_copy)

    assert (report.created, report.rejected) == (2_499, 1)
    assert report.rejects[0].line == 2051
    assert "octet nul (0x00) dans la colonne 4 (rs)" in report.rejects[0].reason
    finess = generated_extract.read_bytes().split(b"\n")[2050].split(b";")[1].decode()
    assert not Structure.objects.filter(finess=finess).exists()
    assert Structure.objects.count() == 2_499
    # Its geolocation line has nothing to attach to: a warning, as for any rejected line.
    assert any(finess in w.message for w in report.warnings if w.kind == "geolocation")


def test_a_nul_byte_in_a_geolocation_line_rejects_that_line(tmp_path, use_copy, generated_extract):
    last = len(generated_extract.read_bytes().split(b"\n")) - 1  # the last geolocation
    path = with_bytes_in_line(generated_extract, tmp_path / "nul.csv", last, 2, b"\x00")
    report = run(path, use_copy)

    assert (report.created, report.rejected, report.geolocated) == (2_500, 1, clean_geos(path) - 1)
    assert report.rejects[0].line == last
    assert "colonne 3 (coordxet)" in report.rejects[0].reason


def clean_geos(path: Path) -> int:
    return path.read_bytes().count(b"\ngeolocalisation;")


def test_the_command_reports_the_nul_line_and_imports_the_rest(tmp_path, generated_extract):
    path = with_bytes_in_line(generated_extract, tmp_path / "nul.csv", 2051, 9, b"RUE\x00")
    out = StringIO()
    call_command("import_finess", str(path), "--quiet", stdout=out)

    text = out.getvalue()
    assert "2499 créés, 0 mis à jour, 0 inchangé, 1 rejeté" in text
    assert "ligne 2051 : octet nul (0x00) dans la colonne 10 (voie)" in text
    assert Structure.objects.count() == 2_499


def poison_batch(monkeypatch: pytest.MonkeyPatch, batch: int) -> list[int]:
    """Make the ``batch``-th write of establishments of the ORM writer fail in the database.

    The batch is written with a NUL byte in one name, as the parser let through before: a real
    DataError from the database (the ORM writer's INSERT), after earlier batches wrote.
    """
    original = module.OrmWriter.write_establishments
    calls: list[int] = []

    def write(self: Any, records: list[module.Establishment], **kwargs: Any) -> None:
        calls.append(len(records))
        if len(calls) == batch:
            records = [*records[:-1], dataclasses.replace(records[-1], name="EHPAD\x00")]
        original(self, records, **kwargs)

    monkeypatch.setattr(module.OrmWriter, "write_establishments", write)
    return calls


def last_establishment(path: Path) -> str:
    """FINESS ET of the last ``structureet`` line of ``path`` (the SQL path writes it last)."""
    line = path.read_bytes().split(b"\n")[establishment_lines(path)[-1] - 1]
    return line.split(b";")[1].decode()


def written_before(error: DataError) -> int:
    """Structures the transaction held when the poisoned one was refused."""
    match = re.search(r"poison after (\d+) structures", str(error))
    assert match, error
    return int(match.group(1))


def test_a_failing_late_batch_leaves_the_database_unchanged(
    tmp_path, use_copy, monkeypatch, generated_extract
):
    run(
        write_extract(tmp_path, [structure_line(ET1), structure_line(ET2), geo_line(ET1)]), use_copy
    )
    before = {
        "structures": list(Structure.objects.order_by("pk").values()),
        "organisations": list(Organisation.objects.order_by("pk").values()),
    }
    if use_copy:
        with (
            poisoned_structure(last_establishment(generated_extract)),
            pytest.raises(DataError) as error,
        ):
            run(generated_extract, use_copy)
        # PostgreSQL refused the last structure after writing the 2 499 others (and their
        # organisations): all of it is rolled back.
        assert written_before(error.value) == 2 + 2_499
    else:
        calls = poison_batch(monkeypatch, batch=2)
        with pytest.raises(DataError):
            run(generated_extract, use_copy)
        assert len(calls) == 2  # the first batch had been written: all of it is rolled back

    assert list(Structure.objects.order_by("pk").values()) == before["structures"]
    assert list(Organisation.objects.order_by("pk").values()) == before["organisations"]


def test_the_command_reports_a_database_failure_in_one_line_and_writes_nothing(
    monkeypatch, generated_extract
):
    with contextlib.ExitStack() as stack:
        if connection.vendor == "postgresql":
            stack.enter_context(poisoned_structure(last_establishment(generated_extract)))
        else:
            poison_batch(monkeypatch, batch=2)
        with pytest.raises(CommandError) as error:
            call_command("import_finess", str(generated_extract), "--quiet", stdout=StringIO())

    assert error.value.returncode == 1
    assert "aucune donnée n'a été enregistrée" in str(error.value)
    assert "\n" not in str(error.value)
    assert Structure.objects.count() == 0
    assert Organisation.objects.count() == 0


def test_cr_only_line_ends_are_read_like_lf(tmp_path, use_copy):
    # The finding: a file with CR line ends gave exit 0, « 0 ligne lue » and the extract date
    # « 2024-01-15structureet ». It is now read with universal newlines.
    lines = [structure_line(ET1, siret=SIRET1), structure_line(ET2), geo_line(ET1), ""]
    path = tmp_path / "cr.csv"
    path.write_bytes("\r".join([MARKER, *lines]).encode("utf-8"))

    report = run(path, use_copy)

    assert report.extract_date == "2024-01-15"
    assert (report.lines_read, report.created, report.rejected, report.geolocated) == (3, 2, 0, 1)
    assert "Fins de ligne CR" in report.as_text()
    assert Structure.objects.get(finess=ET1).siret == SIRET1
    assert Structure.objects.get(finess=ET1).lambert_x == Decimal("869907.70")
    again = run(write_extract(tmp_path, lines[:-1]), use_copy)  # the same file with LF
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_a_large_cr_only_file_reads_across_chunks(tmp_path, use_copy, monkeypatch):
    # Small reads put line ends (and the two halves of a CRLF) across chunk boundaries.
    monkeypatch.setattr(module, "CHUNK_BYTES", 7)
    numbers = [finess_with_key(f"01000{n:03d}") for n in range(1, 40)]
    body = [structure_line(n) for n in numbers] + [geo_line(n) for n in numbers[::2]]
    path = tmp_path / "cr.csv"
    path.write_bytes(("\r".join([MARKER, *body[:30]]) + "\r\n" + "\r".join(body[30:])).encode())

    report = run(path, use_copy)

    assert (report.created, report.geolocated, report.rejected) == (39, 20, 0)
    assert report.lines_read == len(body)


def test_a_lone_cr_inside_a_field_of_an_lf_file_stays_in_its_field(tmp_path, use_copy):
    path = write_extract(tmp_path, [structure_line(ET1, long_name="FOYER\rANNEXE")])
    report = run(path, use_copy)

    assert (report.created, report.rejected) == (1, 0)
    assert Structure.objects.get(finess=ET1).long_name == "FOYER\rANNEXE"


@pytest.mark.parametrize(
    "marker",
    [
        "finess;etalab;100;2024-01-15structureet",  # what the CR-only file gave
        "finess;etalab;100;15/13/2024",
        "finess;etalab;100;hier",
    ],
)
def test_a_marker_date_that_is_not_a_date_is_refused(tmp_path, use_copy, marker):
    path = write_extract(tmp_path, [structure_line(ET1)], marker=marker)

    with pytest.raises(NotAFinessExtract) as error:
        run(path, use_copy)

    assert "n'est pas une date" in error.value.message
    assert Structure.objects.count() == 0


@pytest.mark.parametrize(
    ("date", "expected"), [("2024-01-15", "2024-01-15"), ("15/01/2024", "2024-01-15"), ("", "")]
)
def test_marker_dates_that_are_read(tmp_path, date, expected):
    path = write_extract(tmp_path, [structure_line(ET1)], marker=f"finess;etalab;100;{date}")
    assert run(path, False, dry_run=True).extract_date == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",  # the marker alone
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed\xbd\x07`\x1cI\x96%&/m\xca{\x7fJ\n\xf5\xd3",
        "structureet;...\n".encode("utf-16-le") * 3,  # UTF-16 after a UTF-8 marker
    ],
)
def test_a_file_without_any_extract_line_is_refused(tmp_path, use_copy, body):
    run(write_extract(tmp_path, [structure_line(ET3)]), use_copy)
    path = tmp_path / "junk.csv"
    path.write_bytes(MARKER.encode() + b"\n" + body)

    with pytest.raises(NotAFinessExtract) as error:
        run(path, use_copy)

    assert "aucune ligne structureet ni geolocalisation" in error.value.message
    assert list(Structure.objects.values_list("finess", flat=True)) == [ET3]


def test_a_first_line_without_end_is_not_an_extract(tmp_path, use_copy):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"finess;etalab;" + b"x" * (module.MAX_MARKER_BYTES + 10))

    with pytest.raises(NotAFinessExtract):
        run(path, use_copy)


def test_a_quoted_field_over_the_csv_limit_rejects_its_line(tmp_path, use_copy):
    huge = '"' + "A" * 200_000 + '"'
    path = write_extract(tmp_path, [structure_line(ET1), structure_line(ET2, long_name=huge)])
    report = run(path, use_copy)

    assert (report.created, report.rejected) == (1, 1)
    assert report.rejects[0].line == 3 and "illisible" in report.rejects[0].reason


@pytest.mark.parametrize(
    ("marker", "body", "fragment"),
    [
        ("finess;etalab;100;2024-01-15structureet", "", "n'est pas une date"),
        (MARKER, "\x00\x01\x02 junk\n", "aucune ligne structureet"),
    ],
)
def test_the_command_refuses_an_unreadable_file_with_exit_code_2(tmp_path, marker, body, fragment):
    path = tmp_path / "unreadable.csv"
    path.write_bytes(f"{marker}\n{body}".encode())

    with pytest.raises(CommandError) as error:
        call_command("import_finess", str(path), stdout=StringIO())

    assert error.value.returncode == 2
    assert fragment in str(error.value) and "\n" not in str(error.value)
    assert Structure.objects.count() == 0


def test_the_command_shows_a_file_name_that_is_not_utf8_escaped(tmp_path):
    # The shell passes bytes: Python turns \xff into the lone surrogate "\udcff".
    path = os.fsdecode(os.fsencode(tmp_path) + b"/extrait\xff.csv")

    with pytest.raises(CommandError) as error:
        call_command("import_finess", path, stdout=StringIO())

    assert error.value.returncode == 1
    assert "extrait\\xff.csv" in str(error.value)
    str(error.value).encode("utf-8")  # what Django writes on stderr: no UnicodeEncodeError


def test_the_parser_s_key_shortcuts_agree_with_the_identifier_rules():
    # The parser's table-driven Luhn and its shortcuts must say exactly what
    # funding.identifiers says (the definition, and the source of every message).
    rng = random.Random(13)
    numbers = [
        "".join(rng.choice("0123456789") for _ in range(length))
        for length in (9, 14, 8, 10, 13, 15)
        for _ in range(20_000)
    ]
    numbers += [finess_with_key(f"{n:08d}") for n in range(0, 10**8, 997_331)]
    numbers += [
        siret_with_key(siren_with_key(f"{n:08d}") + "0001") for n in range(0, 10**8, 1_234_567)
    ]
    numbers += ["2A0000001", "2B00000X1", "35600000000000", "35600000000048", "356000000", ""]
    numbers += ["²" * 9, "٣" * 9, "²" * 14, "01000001 ", "0100000A1"]
    for number in numbers:
        assert module._finess_error(number) == finess_error(number), number
        assert module._siret_is_valid(number) == is_valid_siret(number), number
        if len(number) in (9, 14) and number.isascii() and number.isdigit():
            assert module._luhn(number) == luhn_is_valid(number), number
        if is_valid_siret(number):
            expected = number[:9] if is_valid_siren(number[:9]) else ""
            assert module._siren_of(number) == expected, number
