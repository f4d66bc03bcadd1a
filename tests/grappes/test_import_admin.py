"""Starting the FINESS import from the admin: upload, job, Celery task (eager), progress."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from essms_portal.accounts.models import Role
from grappes.models import FinessImportJob, Structure
from tests.factories import UserFactory
from tests.grappes.helpers import extract_upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_storage")]

UPLOAD_URL = "admin:grappes_finessimportjob_upload"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True))
    return client


def test_staff_upload_runs_the_import_and_stores_the_counts(
    admin_client, django_capture_on_commit_callbacks, private_storage
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            reverse(UPLOAD_URL), {"file": extract_upload("../../etc/FINESS stock (1).csv")}
        )

    # The import task queued after the upload commits, then, once the import commits, the new
    # version of the dashboard's cached figures (``quotes_changed``).
    assert len(callbacks) == 2
    job = FinessImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:grappes_finessimportjob_progress", args=[job.pk])
    assert job.status == FinessImportJob.Status.DONE
    assert (job.progress, job.lines_read, job.created, job.updated, job.unchanged) == (
        100,
        5,
        3,
        0,
        0,
    )
    assert job.rejected == 1
    assert "ligne 6 : ligne tronquée" in job.report
    assert job.created_by is not None and job.started_at and job.finished_at
    assert Structure.objects.count() == 3
    # The name is sanitised and the file kept in the private storage.
    assert job.original_name == "FINESS stock (1).csv"
    assert job.file.name.startswith("finess/") and job.file.name.endswith(".csv")
    assert ".." not in job.file.name and " " not in job.file.name
    assert (private_storage / job.file.name).exists()

    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert "finess-import-bar" in page.content.decode()
    status = admin_client.get(reverse("admin:grappes_finessimportjob_status", args=[job.pk]))
    assert status.json() == {
        "status": "done",
        "status_label": "Terminé",
        "progress": 100,
        "finished": True,
        "lines_read": 5,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "report": job.report,
    }


def test_a_second_upload_of_the_same_file_changes_nothing(
    admin_client, django_capture_on_commit_callbacks
):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(reverse(UPLOAD_URL), {"file": extract_upload()})

    last = FinessImportJob.objects.order_by("-pk").first()
    assert (last.created, last.updated, last.unchanged) == (0, 0, 3)
    assert "0 créé, 0 mis à jour, 3 inchangés" in last.report


def test_pending_job_shows_progress_zero_and_keeps_polling(admin_client):
    job = FinessImportJob.objects.create(original_name="extrait.csv", file="finess/extrait.csv")

    status = admin_client.get(reverse("admin:grappes_finessimportjob_status", args=[job.pk]))

    assert status.json()["finished"] is False
    assert status.json()["progress"] == 0
    assert status.json()["report"] == ""


def test_a_file_that_is_not_an_extract_gets_a_form_error(
    admin_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("liste.csv", b"nom;prenom\nDupont;Jean\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(UPLOAD_URL), {"file": upload})

    assert response.status_code == 400
    assert "n&#x27;est pas un extrait FINESS" in response.content.decode()
    assert not FinessImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused(admin_client, settings):
    settings.FINESS_IMPORT_MAX_BYTES = 100

    response = admin_client.post(reverse(UPLOAD_URL), {"file": extract_upload()})

    assert response.status_code == 400
    assert "taille maximale" in response.content.decode()
    assert not FinessImportJob.objects.exists()


def test_no_second_import_while_one_is_running(admin_client):
    FinessImportJob.objects.create(
        original_name="en-cours.csv", file="finess/en-cours.csv", status="running"
    )

    response = admin_client.post(reverse(UPLOAD_URL), {"file": extract_upload()})

    assert response.status_code == 400
    assert "déjà en cours" in response.content.decode()
    assert FinessImportJob.objects.count() == 1


@pytest.mark.parametrize(
    ("role", "region"),
    [(Role.GESTIONNAIRE, None), (Role.ARS_INSTRUCTEUR, "11"), (Role.CNSA_AGENT, None)],
)
def test_non_staff_users_are_refused(client, role, region):
    client.force_login(UserFactory(role=role, region_id=region))
    job = FinessImportJob.objects.create(original_name="x.csv", file="finess/x.csv")

    for name, args in (
        (UPLOAD_URL, []),
        ("admin:grappes_finessimportjob_progress", [job.pk]),
        ("admin:grappes_finessimportjob_status", [job.pk]),
    ):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302, name
        assert "/admin/login/" in response["Location"]
    response = client.post(reverse(UPLOAD_URL), {"file": extract_upload()})
    assert response.status_code == 302
    assert FinessImportJob.objects.count() == 1


def test_staff_without_the_permission_is_forbidden(client):
    client.force_login(UserFactory(role=Role.CNSA_AGENT, is_staff=True))

    assert client.get(reverse(UPLOAD_URL)).status_code == 403


def test_structure_changelist_links_to_the_upload_and_add_redirects(admin_client):
    changelist = admin_client.get(reverse("admin:grappes_structure_changelist"))
    assert reverse(UPLOAD_URL) in changelist.content.decode()

    form = admin_client.get(reverse(UPLOAD_URL))
    assert form.status_code == 200
    assert 'type="file"' in form.content.decode()

    add = admin_client.get(reverse("admin:grappes_finessimportjob_add"))
    assert add.status_code == 302 and add["Location"] == reverse(UPLOAD_URL)
