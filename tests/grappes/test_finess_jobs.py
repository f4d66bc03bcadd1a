"""The admin's FINESS import job is all or nothing, and its progress is seen while it runs.

Transactional tests: the job row and the import must really commit, as in the Celery worker,
so that another connection (the polling admin page) sees what it would see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection, connections

from grappes.finess import importer as module
from grappes.finess import jobs as finess_jobs
from grappes.finess.jobs import finess_import_job_run
from grappes.models import FinessImportJob, Organisation, Structure
from scripts.generate_finess_extract import generate
from tests.grappes.helpers import ET1, ET2, geo_line, structure_line, write_extract

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("private_storage"),
]


@pytest.fixture
def observer() -> Iterator[Any]:
    """A connection of its own, like the admin page polling while the worker imports."""
    other = connections.create_connection("default")
    yield other
    other.close()


def read(other: Any, sql: str, params: list[Any]) -> Any:
    with other.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def job_for(path: Path) -> FinessImportJob:
    job = FinessImportJob(original_name=path.name, size=path.stat().st_size)
    job.file.save("extrait.csv", ContentFile(path.read_bytes()), save=False)
    job.save()
    return job


def extract(tmp_path: Path, lines: int = 600) -> Path:
    path = tmp_path / "generated.csv"
    generate(lines=lines, out=path, encoding="utf-8", seed=7)
    return path


def test_progress_is_visible_while_the_import_is_not(tmp_path, monkeypatch, observer):
    monkeypatch.setattr(module, "BATCH_SIZE", 100)  # about a dozen batches
    job = job_for(extract(tmp_path))
    seen: list[tuple[int, int, int]] = []
    real_import = finess_jobs.finess_import

    def watched(**kwargs: Any) -> module.ImportReport:
        progress = kwargs.pop("progress")

        def spy(done: int, total: int, report: module.ImportReport) -> None:
            progress(done, total, report)
            progress_seen, created_seen = read(
                observer,
                "SELECT progress, created FROM grappes_finessimportjob WHERE id = %s",
                [job.pk],
            )
            (structures,) = read(observer, "SELECT count(*) FROM grappes_structure", [])
            seen.append((progress_seen, created_seen, structures))

        return real_import(progress=spy, **kwargs)

    monkeypatch.setattr(finess_jobs, "finess_import", watched)

    job = finess_import_job_run(job_id=job.pk)

    assert job.status == FinessImportJob.Status.DONE
    assert (job.progress, job.created) == (100, 600)
    assert len(seen) > 5
    # The page sees the progress and the counts grow, batch after batch…
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen) and seen[-1][0] == 99
    assert [created for _, created, _ in seen[:3]] == [100, 200, 300]
    # … but not one structure before the end: the import is one transaction.
    assert {structures for _, _, structures in seen} == {0}
    assert read(observer, "SELECT count(*) FROM grappes_structure", []) == (600,)


def test_a_job_failing_late_changes_nothing(tmp_path, monkeypatch, observer):
    job = job_for(
        write_extract(tmp_path, [structure_line(ET1), structure_line(ET2), geo_line(ET1)])
    )
    assert finess_import_job_run(job_id=job.pk).status == FinessImportJob.Status.DONE
    before = (
        list(Structure.objects.order_by("pk").values()),
        list(Organisation.objects.order_by("pk").values()),
    )
    monkeypatch.setattr(module, "BATCH_SIZE", 100)
    writer: Any
    if connection.vendor == "postgresql":
        from grappes.finess.postgres import PostgresWriter as writer
    else:
        writer = module.OrmWriter
    original = writer.write_establishments
    calls: list[int] = []

    def write(self: Any, records: list[module.Establishment], **kwargs: Any) -> None:
        # The third batch reaches the database with a NUL byte, as the parser once let through.
        calls.append(len(records))
        if len(calls) == 3:
            records = [dataclasses.replace(records[0], name="EHPAD\x00"), *records[1:]]
        original(self, records, **kwargs)

    monkeypatch.setattr(writer, "write_establishments", write)

    job = finess_import_job_run(job_id=job_for(extract(tmp_path)).pk)

    assert len(calls) == 3
    assert job.status == FinessImportJob.Status.FAILED
    assert "aucune donnée n'a été enregistrée" in job.report
    assert job.finished_at is not None
    after = (
        list(Structure.objects.order_by("pk").values()),
        list(Organisation.objects.order_by("pk").values()),
    )
    assert after == before


def test_an_unreadable_file_fails_the_job_with_its_message(tmp_path):
    path = tmp_path / "cr.csv"
    path.write_bytes(b"finess;etalab;100;2024-01-15structureet;x\n")

    job = finess_import_job_run(job_id=job_for(path).pk)

    assert job.status == FinessImportJob.Status.FAILED
    assert "n'est pas une date" in job.report
    assert Structure.objects.count() == 0


def test_a_cr_only_file_uploaded_is_imported(tmp_path):
    lines = [structure_line(ET1), structure_line(ET2), geo_line(ET1)]
    path = tmp_path / "cr.csv"
    path.write_bytes("\r".join(["finess;etalab;100;2024-01-15", *lines]).encode())

    job = finess_import_job_run(job_id=job_for(path).pk)

    assert (job.status, job.created, job.lines_read) == (FinessImportJob.Status.DONE, 2, 3)
    assert "Extrait FINESS du 2024-01-15" in job.report
