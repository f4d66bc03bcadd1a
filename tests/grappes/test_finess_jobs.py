"""The admin's FINESS import job is all or nothing, and its progress is seen while it runs.

Transactional tests: the job row and the import must really commit, as in the Celery worker,
so that another connection (the polling admin page) sees what it would see.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, connection, connections

from grappes.finess import importer as module
from grappes.finess import jobs as finess_jobs
from grappes.finess import postgres as finess_postgres
from grappes.finess.jobs import finess_import_job_run
from grappes.models import FinessImportJob, Organisation, Structure
from scripts.generate_finess_extract import generate
from tests.grappes.finess_poison import poisoned_structure
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


LOCKED = "locked"


def count_structures(other: Any) -> int | str:
    """What another connection sees of the structures: their number, or LOCKED when a first
    import on PostgreSQL holds the table (its indexes dropped until the commit, see
    ``finess.postgres._built_after``): the reader would wait for the commit."""
    if other.vendor != "postgresql":
        return read(other, "SELECT count(*) FROM grappes_structure", [])[0]
    try:
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
            cursor.execute("SELECT count(*) FROM grappes_structure")
            return cursor.fetchone()[0]
    except OperationalError:
        return LOCKED
    finally:
        with other.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def job_for(path: Path) -> FinessImportJob:
    job = FinessImportJob(original_name=path.name, size=path.stat().st_size)
    job.file.save("extrait.csv", ContentFile(path.read_bytes()), save=False)
    job.save()
    return job


def last_establishment(path: Path) -> str:
    """FINESS ET of the last ``structureet`` line (the SQL path writes the file's order)."""
    last = [line for line in path.read_bytes().split(b"\n") if line.startswith(b"structureet;")]
    return last[-1].split(b";")[1].decode()


def extract(tmp_path: Path, lines: int = 600) -> Path:
    path = tmp_path / "generated.csv"
    generate(lines=lines, out=path, encoding="utf-8", seed=7)
    return path


def test_progress_is_visible_while_the_import_is_not(tmp_path, monkeypatch, observer):
    # About a dozen batches (ORM writer) or 16 Kio steps of the file read (COPY path).
    monkeypatch.setattr(module, "BATCH_SIZE", 100)
    monkeypatch.setattr(finess_postgres, "BLOCK_BYTES", 16 * 1024)
    job = job_for(extract(tmp_path))
    seen: list[tuple[int, int, int, int]] = []
    real_import = finess_jobs.finess_import

    def watched(**kwargs: Any) -> module.ImportReport:
        progress = kwargs.pop("progress")

        def spy(done: int, total: int, report: module.ImportReport) -> None:
            progress(done, total, report)
            progress_seen, created_seen, lines_seen = read(
                observer,
                "SELECT progress, created, lines_read FROM grappes_finessimportjob WHERE id = %s",
                [job.pk],
            )
            structures = count_structures(observer)
            seen.append((progress_seen, created_seen, lines_seen, structures))

        return real_import(progress=spy, **kwargs)

    monkeypatch.setattr(finess_jobs, "finess_import", watched)

    job = finess_import_job_run(job_id=job.pk)

    assert job.status == FinessImportJob.Status.DONE
    assert (job.progress, job.created) == (100, 600)
    assert len(seen) > 5
    # The page sees the progress and the counts grow, batch after batch…
    assert [p for p, *_ in seen] == sorted(p for p, *_ in seen) and seen[-1][0] == 99
    if connection.vendor == "postgresql":
        # … the lines read, block after block (the SQL path counts created and updated rows
        # with its set-wise writes, at the end) …
        lines = [lines_read for _, _, lines_read, _ in seen]
        assert lines == sorted(lines) and lines[0] > 0 and len(set(lines)) > 5
        assert seen[-1][2] == job.lines_read
    else:
        assert [created for _, created, _, _ in seen[:3]] == [100, 200, 300]
    # … but not one structure before the end: the import is one transaction (a first import
    # on PostgreSQL locks the tables once it writes: a reader then waits instead).
    assert seen[0][3] == 0
    assert {structures for *_, structures in seen} <= {0, LOCKED}
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
    path = extract(tmp_path)
    calls: list[int] = []
    with contextlib.ExitStack() as stack:
        if connection.vendor == "postgresql":
            # The SQL path writes set-wise: PostgreSQL refuses the last structure it writes.
            stack.enter_context(poisoned_structure(last_establishment(path)))
        else:
            original = module.OrmWriter.write_establishments

            def write(self: Any, records: list[module.Establishment], **kwargs: Any) -> None:
                # The third batch reaches the database with a NUL byte, as the parser once
                # let through.
                calls.append(len(records))
                if len(calls) == 3:
                    records = [dataclasses.replace(records[0], name="EHPAD\x00"), *records[1:]]
                original(self, records, **kwargs)

            monkeypatch.setattr(module.OrmWriter, "write_establishments", write)

        job = finess_import_job_run(job_id=job_for(path).pk)

    assert len(calls) == (0 if connection.vendor == "postgresql" else 3)
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
