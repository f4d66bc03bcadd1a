"""Antivirus: every dossier upload is scanned by a REAL clamd before it is stored.

The session fixture starts ``/usr/sbin/clamd`` (Debian ``clamav-daemon``, installed by
``scripts/system-deps.sh test``) on a signature database the test writes: one signature, the
EICAR test string (freshclam's databases are not needed, nor downloadable here). Never
skipped: without clamd the fixture fails.
"""

from __future__ import annotations

import base64
import html
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.models import Attachment
from essms_portal import antivirus
from essms_portal.antivirus import UNAVAILABLE_MESSAGE, ping, scan_stream
from tests.conftest import drain
from tests.factories import (
    ApplicationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

CLAMD = "/usr/sbin/clamd"
# Kept encoded so that no scanner flags this source file itself.
EICAR = base64.b64decode(
    "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo="
)
SIGNATURE = "Portal-Test-Eicar"
# clamd names a signature of a local (non-ClamAV) database so.
FOUND = f"{SIGNATURE}.UNOFFICIAL"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
# A PDF by its first bytes (it passes the type check) that carries the EICAR string.
INFECTED_PDF = b"%PDF-1.4\n1 0 obj\n<< /Payload (" + EICAR + b") >>\nendobj\n%%EOF\n"


@pytest.fixture(scope="session")
def clamd_socket() -> Iterator[str]:
    """A real clamd on a Unix socket, with the EICAR signature only; stopped at the end."""
    assert Path(CLAMD).exists(), f"{CLAMD} absent : apt-get install clamav-daemon"
    # A short path: a Unix socket path is limited to 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="clamd-"))
    socket_path = str(directory / "clamd.sock")
    (directory / "db").mkdir()
    (directory / "db" / "test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    conf = directory / "clamd.conf"
    conf.write_text(
        f"LocalSocket {socket_path}\n"
        f"DatabaseDirectory {directory / 'db'}\n"
        "Foreground yes\n"
        f"LogFile {directory / 'clamd.log'}\n"
        f"PidFile {directory / 'clamd.pid'}\n"
        f"TemporaryDirectory {directory}\n"
    )
    output = (directory / "clamd.out").open("wb")
    process = subprocess.Popen([CLAMD, "-c", str(conf)], stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ping(socket_path, timeout=1.0):
            if process.poll() is not None:
                log = (directory / "clamd.out").read_text(errors="replace")
                pytest.fail(f"clamd s'est arrêté : {log}")
            if time.monotonic() > deadline:
                pytest.fail("clamd ne répond pas à PING après 60 s")
            time.sleep(0.1)
        yield socket_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def antivirus_on(settings, clamd_socket):
    settings.ANTIVIRUS_SOCKET = clamd_socket
    settings.ANTIVIRUS_REQUIRED = True
    return clamd_socket


@pytest.fixture
def dossier(client, private_storage):
    application = ApplicationFactory(grappe=grappe_with_structures(3))
    user = UserFactory()
    confirmed_member(user, application.grappe.porteur)
    client.force_login(user)
    return application


def _upload(client, application, name, content):
    return client.post(
        reverse("dossiers:upload", args=[application.pk]),
        {"kind": "convention", "file": SimpleUploadedFile(name, content)},
    )


def _stored_files(private_storage: Path) -> list[Path]:
    return (
        [p for p in private_storage.rglob("*") if p.is_file()] if private_storage.exists() else []
    )


def test_client_finds_the_signature_across_chunks_and_passes_clean_streams(clamd_socket):
    assert scan_stream(BytesIO(PDF), clamd_socket) is None
    assert scan_stream(BytesIO(EICAR), clamd_socket) == FOUND
    # Beyond the first chunk, and across a chunk boundary.
    padding = b"0" * (antivirus.CHUNK_BYTES - 10)
    assert scan_stream(BytesIO(padding + EICAR), clamd_socket) == FOUND
    assert scan_stream(BytesIO(b"0" * 3 * antivirus.CHUNK_BYTES), clamd_socket) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content",
    [
        INFECTED_PDF,
        # Over FILE_UPLOAD_MAX_MEMORY_SIZE: a temporary file on disk, the virus at its end.
        INFECTED_PDF[:9] + b"0" * (3 * 1024 * 1024) + INFECTED_PDF[9:],
    ],
    ids=["in-memory", "temporary-file"],
)
def test_infected_upload_is_refused_next_to_the_field_and_never_stored(
    client, dossier, antivirus_on, private_storage, content
):
    response = _upload(client, dossier, "convention.pdf", content)
    assert response.status_code == 400
    errors = response.context["attachment_form"].errors["file"]
    assert any("contient un virus" in error and SIGNATURE in error for error in errors)
    assert "contient un virus ou un logiciel malveillant" in html.unescape(
        response.content.decode()
    )
    assert not Attachment.objects.exists()
    assert _stored_files(private_storage) == []


@pytest.mark.django_db
def test_clean_pdf_is_accepted_and_downloadable(client, dossier, antivirus_on, private_storage):
    assert _upload(client, dossier, "convention.pdf", PDF).status_code == 302
    attachment = Attachment.objects.get()
    response = client.get(reverse("dossiers:download", args=[dossier.pk, attachment.pk]))
    assert drain(response) == PDF
    assert len(_stored_files(private_storage)) == 1


@pytest.mark.django_db
def test_scan_happens_before_storage(client, dossier, antivirus_on, monkeypatch):
    calls: list[str] = []
    real_scan, real_save = antivirus.scan_stream, FileSystemStorage.save

    def scan(*args, **kwargs):
        calls.append("scan")
        return real_scan(*args, **kwargs)

    def save(*args, **kwargs):
        calls.append("save")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(antivirus, "scan_stream", scan)
    monkeypatch.setattr(FileSystemStorage, "save", save)
    assert _upload(client, dossier, "convention.pdf", PDF).status_code == 302
    assert calls == ["scan", "save"]
    calls.clear()
    assert _upload(client, dossier, "virus.pdf", INFECTED_PDF).status_code == 400
    assert calls == ["scan"]


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["/nonexistent/clamd.sock", "tcp://127.0.0.1:1", ""])
def test_clamd_unavailable_while_required_refuses_and_stores_nothing(
    client, dossier, settings, private_storage, address
):
    settings.ANTIVIRUS_SOCKET = address
    settings.ANTIVIRUS_REQUIRED = True
    settings.ANTIVIRUS_TIMEOUT = 2.0
    response = _upload(client, dossier, "convention.pdf", PDF)
    assert response.status_code == 400
    assert UNAVAILABLE_MESSAGE in response.context["attachment_form"].errors["file"]
    assert "momentanément indisponible" in html.unescape(response.content.decode())
    assert not Attachment.objects.exists()
    assert _stored_files(private_storage) == []


@pytest.mark.django_db
def test_without_socket_and_not_required_scanning_is_disabled_with_a_warning(
    client, dossier, settings, caplog
):
    settings.ANTIVIRUS_SOCKET = ""
    settings.ANTIVIRUS_REQUIRED = False
    with caplog.at_level(logging.WARNING, logger="essms_portal.antivirus"):
        assert _upload(client, dossier, "convention.pdf", PDF).status_code == 302
    assert Attachment.objects.count() == 1
    assert "Analyse antivirus désactivée" in caplog.text
