"""Batch export of decision PDFs (ZIP + manifest) and data exports (CSV / XLSX)."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
import zlib
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from openpyxl import load_workbook

from applications.decisions import services as decisions
from applications.decisions.services import (
    DecisionError,
    decision_export_build,
    decision_export_create,
    decisions_exportable_by,
    export_workdir,
)
from applications.models import Application, Decision, DecisionExport
from applications.reporting import exports
from essms_portal.accounts.models import Role
from grappes.models import Grappe
from tests.applications.helpers import (
    ars,
    assert_complete,
    cnsa_agent,
    decided_dossier,
    issued,
    submitted_dossier,
)
from tests.conftest import drain
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]


# --------------------------------------------------------------------------------------------
# Batch export of decision PDFs
# --------------------------------------------------------------------------------------------


def test_export_builds_a_zip_with_every_pdf_once_and_a_manifest(
    mailoutbox, django_capture_on_commit_callbacks
):
    expected = issued(3)
    agent = cnsa_agent()
    with django_capture_on_commit_callbacks(execute=True):
        job = decision_export_create(
            by=agent, decisions=decisions_exportable_by(user=agent), filters={}
        )
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.DONE
    assert (job.done, job.total, job.percent) == (3, 3, 100)
    assert_complete(job, expected)
    assert not export_workdir(job.pk).exists()  # the working files are cleaned up
    ready = [m for m in mailoutbox if "prêt" in m.subject]
    assert ready and ready[-1].to == [agent.email]
    assert reverse("decisions:export_detail", kwargs={"pk": job.pk}) in ready[-1].body


def test_export_of_nothing_is_refused():
    agent = cnsa_agent()
    with pytest.raises(DecisionError):
        decision_export_create(by=agent, decisions=Decision.objects.none(), filters={})
    assert not DecisionExport.objects.exists()


def _pending_job(expected: list[Decision]) -> DecisionExport:
    job = DecisionExport.objects.create(requested_by=cnsa_agent(), total=len(expected))
    job.decisions.add(*expected)
    return job


def test_a_resumed_export_skips_entries_already_written(monkeypatch):
    expected = issued(4)
    job = _pending_job(expected)
    workdir = export_workdir(job.pk)
    workdir.mkdir(parents=True, exist_ok=True)
    first = min(expected, key=lambda d: d.number)
    with default_storage.open(first.pdf.name, "rb") as handle:
        (workdir / f"{first.number}.pdf").write_bytes(handle.read())
    written: list[str] = []
    original = decisions._write_entry

    def counting(target, stored, sha256):
        written.append(target.stem)
        original(target, stored, sha256)

    monkeypatch.setattr(decisions, "_write_entry", counting)
    decision_export_build(job_id=job.pk)

    assert sorted(written) == sorted(d.number for d in expected if d != first)
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.DONE
    assert_complete(job, expected)


class WorkerKilled(BaseException):
    """Stands for a worker killed mid-batch: nothing in the task may catch it."""


def test_an_export_interrupted_mid_batch_finishes_without_duplicates(monkeypatch):
    expected = issued(5)
    job = _pending_job(expected)
    original = decisions._progress

    def dying(job_id, done):
        original(job_id, done)
        if done == 2:
            raise WorkerKilled

    monkeypatch.setattr(decisions, "_progress", dying)
    with pytest.raises(WorkerKilled):
        decision_export_build(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done) == (DecisionExport.Status.RUNNING, 2)
    assert len(list(export_workdir(job.pk).glob("*.pdf"))) == 2

    monkeypatch.setattr(decisions, "_progress", original)
    decision_export_build(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.DONE
    assert_complete(job, expected)
    # Running it again (a redelivered message) changes nothing.
    archive = job.archive.name
    decision_export_build(job_id=job.pk)
    job.refresh_from_db()
    assert job.archive.name == archive


def test_a_tampered_stored_pdf_fails_the_export():
    expected = issued(1)
    with default_storage.open(expected[0].pdf.name, "wb") as handle:
        handle.write(b"%PDF-1.7 falsifie")
    job = _pending_job(expected)
    with pytest.raises(DecisionError):
        decision_export_build(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.FAILED
    assert "empreinte" in job.error


def test_a_missing_job_is_ignored():
    assert decision_export_build(job_id=987654) is None


def test_a_stale_job_is_queued_again_by_the_status_poll(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    import datetime

    from django.utils import timezone

    expected = issued(2)
    job = _pending_job(expected)
    DecisionExport.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    client.force_login(job.requested_by)
    with django_capture_on_commit_callbacks(execute=True):
        state = client.get(reverse("decisions:export_status", kwargs={"pk": job.pk})).json()
    assert state["status"] == "pending"  # the answer reflects the row read before the resume
    job.refresh_from_db()
    assert job.status == DecisionExport.Status.DONE  # the eager task ran on commit
    state = client.get(reverse("decisions:export_status", kwargs={"pk": job.pk})).json()
    assert state["percent"] == 100
    assert state["download_url"] == reverse("decisions:export_download", kwargs={"pk": job.pk})


# --------------------------------------------------------------------------------------------
# Export views: filters, scope, ownership
# --------------------------------------------------------------------------------------------


def test_the_list_filters_and_the_export_uses_the_same_filters(
    client, django_capture_on_commit_callbacks
):
    paris = issued(2)
    lyon = issued(1, region="84")
    agent = cnsa_agent()
    client.force_login(agent)
    page = client.get(reverse("decisions:list"), {"region": "84"})
    assert page.status_code == 200
    content = page.content.decode()
    assert lyon[0].number in content and paris[0].number not in content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("decisions:export_create"), {"region": "84"})
    job = DecisionExport.objects.get()
    assert response["Location"] == reverse("decisions:export_detail", kwargs={"pk": job.pk})
    assert job.filters == {"region": "84"}
    job.refresh_from_db()
    assert_complete(job, lyon)


def test_ars_agents_export_their_region_only(client, django_capture_on_commit_callbacks):
    paris = issued(2)
    issued(1, region="84")
    valideur = ars(Role.ARS_VALIDEUR)
    assert set(decisions_exportable_by(user=valideur)) == set(paris)
    client.force_login(valideur)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("decisions:export_create"))
    job = DecisionExport.objects.get()
    job.refresh_from_db()
    assert_complete(job, paris)


def test_only_the_requester_sees_and_downloads_the_export(
    client, django_capture_on_commit_callbacks
):
    expected = issued(1)
    owner = cnsa_agent()
    with django_capture_on_commit_callbacks(execute=True):
        job = decision_export_create(by=owner, decisions=Decision.objects.all(), filters={})
    for name in ("export_detail", "export_status", "export_download"):
        url = reverse(f"decisions:{name}", kwargs={"pk": job.pk})
        client.force_login(cnsa_agent())
        assert client.get(url).status_code == 404, name
        client.force_login(owner)
        response = client.get(url)
        assert response.status_code == 200, name
        if response.streaming:
            data = drain(response)
            assert zipfile.ZipFile(io.BytesIO(data)).namelist()[0] == f"{expected[0].number}.pdf"


def test_the_progress_page_shows_a_progress_bar(client):
    job = _pending_job(issued(1))
    client.force_login(job.requested_by)
    content = client.get(reverse("decisions:export_detail", kwargs={"pk": job.pk})).content
    page = content.decode()
    assert '<progress id="export-bar"' in page
    assert reverse("decisions:export_status", kwargs={"pk": job.pk}) in page


# --------------------------------------------------------------------------------------------
# Data exports (CSV, XLSX) in the queue's scope and filters
# --------------------------------------------------------------------------------------------


def _csv(client, dataset: str, **params: str) -> list[list[str]]:
    response = client.get(
        reverse("decisions:data_export", kwargs={"dataset": dataset, "fmt": "csv"}), params
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_dossier_csv_respects_scope_and_queue_filters(client):
    paris, _ = submitted_dossier()
    accepted = decided_dossier()
    lyon = decided_dossier(region="84")
    client.force_login(ars(Role.ARS_INSTRUCTEUR))
    rows = _csv(client, "dossiers")
    assert rows[0][0] == "N° dossier"
    numbers = {int(r[0]) for r in rows[1:]}
    assert numbers == {paris.pk, accepted.pk}
    assert lyon.pk not in numbers
    filtered = _csv(client, "dossiers", status="accepted")
    assert [int(r[0]) for r in filtered[1:]] == [accepted.pk]
    row = filtered[1]
    assert row[6] == "Accepté"
    assert int(row[11]) == int(accepted.proposed_amounts.aggregate(s=_sum())["s"])


def _sum():
    from django.db.models import Sum

    return Sum("proposed")


def test_essms_csv_has_one_line_per_essms_with_its_amounts(client):
    accepted = decided_dossier()
    client.force_login(UserFactory(role=Role.CNSA_AGENT))
    rows = _csv(client, "essms")
    assert rows[0][5] == "FINESS ET"
    lines = [r for r in rows[1:] if int(r[0]) == accepted.pk]
    finess = set(accepted.grappe.memberships.values_list("structure__finess", flat=True))
    assert {r[5] for r in lines} == finess
    assert {(r[12], r[13]) for r in lines} == {("25000", "25000")}


def test_xlsx_export_and_formula_neutralisation(client):
    application, _ = submitted_dossier()
    Grappe.objects.filter(pk=application.grappe_id).update(name='=HYPERLINK("x")')
    client.force_login(UserFactory(role=Role.CNSA_AGENT))
    response = client.get(
        reverse("decisions:data_export", kwargs={"dataset": "dossiers", "fmt": "xlsx"})
    )
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(drain(response)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    workbook.close()
    assert rows[0][0] == "N° dossier"
    assert rows[1][0] == application.pk
    assert rows[1][3] == '\'=HYPERLINK("x")'
    csv_rows = _csv(client, "dossiers")
    assert csv_rows[1][3].startswith("'=")


def test_unknown_export_is_404_and_applicants_are_refused(client):
    client.force_login(UserFactory(role=Role.CNSA_AGENT))
    url = reverse("decisions:data_export", kwargs={"dataset": "secrets", "fmt": "csv"})
    assert client.get(url).status_code == 404
    client.force_login(UserFactory())
    url = reverse("decisions:data_export", kwargs={"dataset": "dossiers", "fmt": "csv"})
    assert client.get(url).status_code == 403


def test_essms_xlsx_holds_the_rows_of_the_export(client):
    accepted = decided_dossier()
    client.force_login(UserFactory(role=Role.CNSA_AGENT))
    response = client.get(
        reverse("decisions:data_export", kwargs={"dataset": "essms", "fmt": "xlsx"})
    )
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(drain(response)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    workbook.close()
    expected = list(exports.essms_rows(Application.objects.filter(pk=accepted.pk)))
    assert rows[0] == exports.ESSMS_HEADER
    lines = [row for row in rows[1:] if row[0] == accepted.pk]
    assert len(lines) == len(expected) - 1 > 0
    for got, want in zip(lines, expected[1:], strict=True):
        # Decimals come back as numbers, like any number a spreadsheet stores.
        assert got == tuple(float(v) if isinstance(v, Decimal) else v for v in want)


def test_xlsx_cells_keep_their_type_and_text_that_xml_cannot_carry():
    rows = [
        ("Texte", "Date", "Entier", "Décimal", "Vide", "Rien", "Vrai"),
        ("a & <b> « c »", datetime.date(2024, 2, 29), 25_000, Decimal("0.50"), "", None, True),
        ("=SOMME(A1)", datetime.date(1900, 3, 1), -3, Decimal("30.00"), " espace ", None, False),
        ("fin\x01de\x1fligne", None, 0, Decimal("1E+3"), "x", None, None),
    ]
    with exports.xlsx_file(rows, title="essms") as handle:
        archive = zipfile.ZipFile(handle)
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        handle.seek(0)
        workbook = load_workbook(handle, read_only=True)
        assert workbook.sheetnames == ["essms"]
        got = list(workbook.active.iter_rows(values_only=True))
        workbook.close()
    assert got[0] == rows[0]
    assert got[1] == (
        "a & <b> « c »",
        datetime.datetime(2024, 2, 29),
        25_000,
        0.5,
        None,
        None,
        True,
    )
    assert got[2] == ("'=SOMME(A1)", datetime.datetime(1900, 3, 1), -3, 30, " espace ", None, False)
    # Control characters are written as Excel's own escapes, which Excel reads back.
    assert "fin_x0001_de_x001F_ligne" in sheet
    assert got[3][2:4] == (0, 1000)


def test_xlsx_text_that_looks_like_an_excel_escape_is_escaped_itself():
    """Text holding ``_xHHHH_`` and no control character: the cheap pre-check must still send
    it through the escaping (``_x005F_`` for its underscore), or Excel would read « A » instead
    of the text typed; a bare ``_x`` is left alone."""
    rows = [("Texte",), ("code _x0041_ brut",), ("_x sans code",)]
    with exports.xlsx_file(rows, title="essms") as handle:
        sheet = zipfile.ZipFile(handle).read("xl/worksheets/sheet1.xml").decode()
    assert ">code _x005F_x0041_ brut<" in sheet
    assert ">_x sans code<" in sheet


def test_xlsx_of_the_same_rows_has_the_same_bytes():
    """No timestamp in the archive: a file downloaded again (a payment batch, an export) has the
    same checksum."""
    rows = [("Texte", "Montant"), ("a", 25_000), ("b", Decimal("0.5"))]
    with exports.xlsx_file(rows, title="essms") as first:
        one = first.read()
    with exports.xlsx_file(rows, title="essms") as second:
        two = second.read()
    assert one == two
    assert zipfile.ZipFile(io.BytesIO(one)).testzip() is None


def test_xlsx_entries_are_deflated_at_the_fast_level():
    """Each entry carries its own level (a ZipInfo does): level 1, the writer's choice for speed,
    not zlib's default 6 — the sheet's compressed size is level 1's."""
    rows = [("Texte", "Montant"), *((f"ligne {n} « é »", n * 1000) for n in range(2000))]
    with exports.xlsx_file(rows, title="essms") as handle:
        archive = zipfile.ZipFile(handle)
        info = archive.getinfo("xl/worksheets/sheet1.xml")
        xml = archive.read(info)
    for level, expected in ((1, True), (6, False)):
        deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
        size = len(deflate.compress(xml) + deflate.flush())
        assert (size == info.compress_size) is expected, level
