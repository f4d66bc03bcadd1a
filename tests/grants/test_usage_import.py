"""Bulk import of usage measurements (issue #15 §5): line-numbered rejections, all or nothing,
idempotent; the command's exit codes; the ARS's check."""

from __future__ import annotations

import datetime
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from applications.decisions.services import decision_issue
from applications.models import Application
from essms_portal.accounts.models import Role
from essms_portal.errors import UserError
from funding.identifiers import finess_with_key
from grants.indicators import indicators_ensure_defaults
from grants.measurements import (
    ImportRejected,
    MeasurementNotAllowed,
    UnreadableFile,
    measurement_review,
    measurements_import,
)
from grants.models import GrantLog, Measurement, MeasurementImport, UsageIndicator
from tests.applications.helpers import ars, cnsa_agent, decided_dossier
from tests.dbstate import assert_unchanged, db_state
from tests.factories import StructureFactory

pytestmark = pytest.mark.django_db

HEADER = "finess;indicator;value;measured_on\n"


@pytest.fixture
def funded() -> Application:
    """A regional Île-de-France dossier with its accepted decision issued (15 ESSMS)."""
    application = decided_dossier()
    decision_issue(application=application, by=cnsa_agent())
    indicators_ensure_defaults(campaign=application.call.campaign)
    return application


def finess_of(application: Application) -> list[str]:
    """The first three ESSMS of the funded grappe."""
    return list(
        application.grappe.memberships.order_by("id").values_list("structure__finess", flat=True)
    )[:3]


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode(encoding)


def test_defaults_mark_thresholds_to_confirm_and_exempt_ahi(funded: Application) -> None:
    indicators = UsageIndicator.objects.filter(campaign=funded.call.campaign)
    assert [i.code for i in indicators] == ["DUI_ACTIF", "MSSANTE", "DMP"]
    assert not any(i.threshold_confirmed for i in indicators)
    exempt = {i.code: [e.casf_item_id for e in i.exemptions.all()] for i in indicators}
    assert exempt == {"DUI_ACTIF": [], "MSSANTE": ["8°"], "DMP": ["8°"]}
    # Idempotent: a second call creates nothing.
    assert indicators_ensure_defaults(campaign=funded.call.campaign) == 0


def test_import_creates_then_reimport_changes_nothing(funded: Application) -> None:
    a, b, c = finess_of(funded)
    data = csv_bytes(
        [f"{a};DUI_ACTIF;85,5;2024-03-31", f"{b};MSSANTE;12;31/03/2024", f"{c};DMP;0;2024-03-31"]
    )
    summary = measurements_import(data=data, filename="editeur.csv", by=None)
    assert (summary.rows, summary.created, summary.updated, summary.unchanged) == (3, 3, 0, 0)
    values = dict(
        Measurement.objects.values_list("structure__finess", "value").order_by("structure__finess")
    )
    assert values == {a: Decimal("85.50"), b: Decimal("12.00"), c: Decimal("0.00")}
    assert set(Measurement.objects.values_list("source", flat=True)) == {"imported"}
    before = db_state()
    again = measurements_import(data=data, filename="editeur.csv", by=None)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert_unchanged(before)


def test_latin1_file_is_read(funded: Application) -> None:
    a = finess_of(funded)[0]
    data = (f"finess;indicator;value;measured_on\n{a};DUI_ACTIF;90;2024-06-30\n").encode(
        "latin-1"
    ) + "\n".encode("latin-1")
    assert measurements_import(data=data, filename="é.csv", by=None).created == 1
    bad = csv_bytes([f"{a};DUI_ACTIF;douze é;2024-06-30"], encoding="latin-1")
    with pytest.raises(ImportRejected) as error:
        measurements_import(data=bad, filename="x.csv", by=None)
    assert (
        str(error.value.rejections[0]) == "ligne 2, colonne value : « douze é » n'est pas un nombre"
    )


def test_every_bad_line_is_named_and_nothing_is_written(funded: Application) -> None:
    a, b, _ = finess_of(funded)
    unfunded = StructureFactory().finess
    unknown = finess_with_key("75999999")
    data = csv_bytes(
        [
            f"{a};DUI_ACTIF;85;2024-03-31",  # 2: good
            f"{unknown};DUI_ACTIF;85;2024-03-31",  # 3
            f"{unfunded};DUI_ACTIF;85;2024-03-31",  # 4
            f"{a};inconnu;85;2024-03-31",  # 5
            f"{b};MSSANTE;beaucoup;2024-03-31",  # 6
            f"{b};MSSANTE;12;2031-01-01",  # 7
            "123;DMP;1;2024-03-31",  # 8
            f"{b};DMP;-4;2024-03-31",  # 9
            f"{a};DUI_ACTIF;86;2024-03-31",  # 10: duplicate of 2
            f"{a};DMP;1",  # 11
        ]
    )
    before = db_state()
    with pytest.raises(ImportRejected) as error:
        measurements_import(data=data, filename="editeur.csv", by=None)
    assert_unchanged(before)
    assert [(r.line, r.column) for r in error.value.rejections] == [
        (3, "finess"),
        (4, "finess"),
        (5, "indicator"),
        (6, "value"),
        (7, "measured_on"),
        (8, "finess"),
        (9, "value"),
        (10, "measured_on"),
        (11, "—"),
    ]
    messages = [r.message for r in error.value.rejections]
    assert "inconnu du référentiel" in messages[0]
    assert "non financé" in messages[1]
    assert "hors de la période de mesure (du 01/01/2023 au 31/12/2024)" in messages[4]
    assert "doublon de la ligne 2" in messages[7]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "Fichier vide"),
        (b"finess,indicator,value,measured_on\n", "En-tête attendu"),
        (b"\x00\x01PK", "n'est pas un fichier texte"),
    ],
)
def test_unreadable_files(funded: Application, data: bytes, expected: str) -> None:
    before = db_state()
    with pytest.raises(UnreadableFile) as error:
        measurements_import(data=data, filename="x", by=None)
    assert expected in error.value.message
    assert_unchanged(before)


def test_validated_measurement_cannot_be_replaced_by_an_import(funded: Application) -> None:
    a = finess_of(funded)[0]
    measurements_import(data=csv_bytes([f"{a};DUI_ACTIF;70;2024-03-31"]), filename="1", by=None)
    measurement = Measurement.objects.get()
    measurement_review(measurement=measurement, by=ars(Role.ARS_INSTRUCTEUR), validated=True)
    before = db_state()
    with pytest.raises(ImportRejected) as error:
        measurements_import(data=csv_bytes([f"{a};DUI_ACTIF;95;2024-03-31"]), filename="2", by=None)
    assert "déjà validée" in error.value.rejections[0].message
    assert_unchanged(before)


def test_pending_measurement_is_updated_by_a_new_file(funded: Application) -> None:
    a = finess_of(funded)[0]
    measurements_import(data=csv_bytes([f"{a};DUI_ACTIF;70;2024-03-31"]), filename="1", by=None)
    summary = measurements_import(
        data=csv_bytes([f"{a};DUI_ACTIF;75;2024-03-31"]), filename="2", by=None
    )
    assert (summary.created, summary.updated) == (0, 1)
    assert Measurement.objects.get().value == Decimal(75)
    assert MeasurementImport.objects.count() == 2


def test_review_by_region_only_and_rejection_needs_a_comment(funded: Application) -> None:
    a = finess_of(funded)[0]
    measurements_import(data=csv_bytes([f"{a};DUI_ACTIF;70;2024-03-31"]), filename="1", by=None)
    measurement = Measurement.objects.get()
    other_region, national, reviewer = (
        ars(Role.ARS_INSTRUCTEUR, "84"),
        cnsa_agent(),
        ars(Role.ARS_VALIDEUR),
    )
    before = db_state()
    for outsider in (other_region, national):
        with pytest.raises(MeasurementNotAllowed):
            measurement_review(measurement=measurement, by=outsider, validated=True)
    with pytest.raises(UserError) as error:
        measurement_review(measurement=measurement, by=reviewer, validated=False)
    assert error.value.field == "comment"
    assert_unchanged(before)
    done = measurement_review(
        measurement=measurement, by=reviewer, validated=False, comment="Extraction illisible"
    )
    assert (done.status, done.reviewed_by, done.review_comment) == (
        "rejected",
        reviewer,
        "Extraction illisible",
    )
    assert done.reviewed_at is not None and done.reviewed_at.date() <= datetime.date.today()
    # The check is a state change of the grant: in its hash-chained log, with the reason.
    entry = GrantLog.objects.get(application=funded, event="measurement_rejected")
    assert (entry.actor, entry.actor_email) == (reviewer, reviewer.email)
    assert f"{a} · DUI_ACTIF = 70" in entry.detail and "Extraction illisible" in entry.detail


def test_command_exit_codes(funded: Application, tmp_path: Path) -> None:
    a = finess_of(funded)[0]
    good = tmp_path / "bon.csv"
    good.write_bytes(csv_bytes([f"{a};DUI_ACTIF;70;2024-03-31"]))
    call_command("usage_import", str(good))
    assert Measurement.objects.count() == 1

    bad = tmp_path / "mauvais.csv"
    bad.write_bytes(csv_bytes([f"{a};DUI_ACTIF;x;2024-03-31"]))
    missing = tmp_path / "absent.csv"
    for path, expected in (
        (bad, "mauvais.csv:ligne 2, colonne value"),
        (missing, "absent.csv : fichier illisible"),
    ):
        with pytest.raises(SystemExit) as exit_:
            call_command("usage_import", str(path))
        assert exit_.value.code == 2, expected
    assert Measurement.objects.count() == 1


def test_command_prints_one_line_without_traceback(tmp_path: Path) -> None:
    """A separate process, as an operator runs it: exit 2, one line, no traceback."""
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\x00\x00")
    result = subprocess.run(
        [sys.executable, "manage.py", "usage_import", str(binary)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{binary} : Ce fichier n'est pas un fichier texte CSV (octet nul)."
    ]
    assert "Traceback" not in result.stderr
