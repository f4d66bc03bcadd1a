"""Uploaded files are stored and served under the extension of their detected type (issue #9,
hole 6): a PDF named ``setup.exe`` or ``polyglot.html`` is a ``.pdf``, a PNG named ``img.svg``
a ``.png``, whatever the user typed."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from applications.models import Attachment
from essms_portal.uploads import (
    ALLOWED_TYPES,
    CheckedUpload,
    extension_for,
    served_name,
    stored_name,
    validate_upload,
)
from tests.conftest import drain
from tests.factories import (
    ApplicationFactory,
    UserFactory,
    confirmed_member,
    grappe_with_structures,
)

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
# A PDF that is also an HTML page: a browser sniffing it, or opening it as .html, runs the script.
POLYGLOT = b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


def _zip(entries: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


DOCX = _zip([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<w:document/>")])
ODT = _zip([("mimetype", "application/vnd.oasis.opendocument.text"), ("content.xml", "<x/>")])


# --------------------------------------------------------------------------------------------
# The name function
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extension", "expected"),
    [
        ("setup.exe", "pdf", "setup.pdf"),
        ("polyglot.html", "pdf", "polyglot.pdf"),
        ("img.svg", "png", "img.png"),
        ("rapport.PDF", "pdf", "rapport.pdf"),
        ("rapport.pdf", "pdf", "rapport.pdf"),
        ("rapport", "pdf", "rapport.pdf"),
        ("photo.jpeg", "jpg", "photo.jpeg"),
        ("photo.JPG", "jpg", "photo.jpg"),
        ("photo.png", "jpg", "photo.jpg"),
        ("budget.xlsx", "xlsx", "budget.xlsx"),
        ("budget.zip", "xlsx", "budget.xlsx"),
        ("statuts.docx", "docx", "statuts.docx"),
        ("statuts.odt", "odt", "statuts.odt"),
        ("compte rendu v1.2 final", "pdf", "compte_rendu_v1.2_final.pdf"),
        ("archive.tar.gz", "pdf", "archive.tar.pdf"),
        ("../../etc/con vention?.exe", "pdf", "con_vention.pdf"),
        ("C:\\Users\\x\\page.htm", "pdf", "page.pdf"),
        (".pdf", "pdf", "document.pdf"),
        ("", "png", "document.png"),
        ("???", "pdf", "document.pdf"),
        ("a" * 200 + ".exe", "pdf", "a" * 80 + ".pdf"),
    ],
)
def test_stored_name_keeps_the_stem_and_takes_the_detected_extension(name, extension, expected):
    assert stored_name(name, extension) == expected


def test_every_allowed_type_maps_back_to_its_extension():
    for extension, content_type in ALLOWED_TYPES.items():
        assert extension_for(content_type) == extension
    assert extension_for("text/html") is None
    assert served_name("vieux.html", "application/pdf") == "vieux.pdf"
    assert served_name("vieux.svg", "image/png") == "vieux.png"
    assert served_name("inconnu.bin", "application/x-unknown") == "inconnu.bin"


@pytest.mark.parametrize(
    ("name", "content", "checked"),
    [
        ("setup.exe", PDF, CheckedUpload("application/pdf", "pdf")),
        ("img.svg", PNG, CheckedUpload("image/png", "png")),
        ("a.bin", _xlsx(), CheckedUpload(ALLOWED_TYPES["xlsx"], "xlsx")),
        ("a.bin", DOCX, CheckedUpload(ALLOWED_TYPES["docx"], "docx")),
        ("a.bin", ODT, CheckedUpload(ALLOWED_TYPES["odt"], "odt")),
    ],
)
def test_validate_upload_returns_the_type_and_extension_of_the_content(name, content, checked):
    assert validate_upload(SimpleUploadedFile(name, content)) == checked


# --------------------------------------------------------------------------------------------
# The attack, over HTTP: upload under a lying name, download
# --------------------------------------------------------------------------------------------


@pytest.fixture
def dossier(client, private_storage):
    application = ApplicationFactory(grappe=grappe_with_structures(15))
    user = UserFactory()
    confirmed_member(user, application.grappe.porteur)
    client.force_login(user)
    return application


def _download_name(response) -> str:
    match = re.search(r'filename="([^"]+)"', response["Content-Disposition"])
    assert match, response["Content-Disposition"]
    return match.group(1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "expected", "content_type"),
    [
        ("setup.exe", PDF, "setup.pdf", "application/pdf"),
        ("polyglot.html", POLYGLOT, "polyglot.pdf", "application/pdf"),
        ("img.svg", PNG, "img.png", "image/png"),
        ("rapport.PDF", PDF, "rapport.pdf", "application/pdf"),
    ],
)
def test_a_lying_extension_is_replaced_when_stored_and_served(
    client, dossier, name, content, expected, content_type
):
    response = client.post(
        reverse("dossiers:upload", args=[dossier.pk]),
        {"kind": "convention", "file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 302

    attachment = Attachment.objects.get(application=dossier)
    assert attachment.original_name == expected
    assert attachment.file.name.endswith(f"/{expected}")
    assert attachment.content_type == content_type

    download = client.get(reverse("dossiers:download", args=[dossier.pk, attachment.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert _download_name(download) == expected
    assert download["Content-Type"] == content_type
    assert download["X-Content-Type-Options"] == "nosniff"
    assert drain(download) == content


@pytest.mark.django_db
def test_a_real_svg_or_html_is_refused_whatever_its_name(client, dossier):
    for name, content in (
        ("img.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("page.pdf", b"<!doctype html><script>alert(1)</script>"),
    ):
        response = client.post(
            reverse("dossiers:upload", args=[dossier.pk]),
            {"kind": "convention", "file": SimpleUploadedFile(name, content)},
        )
        assert response.status_code == 400
    assert not Attachment.objects.filter(application=dossier).exists()


@pytest.mark.django_db
def test_a_file_stored_before_the_fix_is_served_with_its_types_extension(client, dossier):
    # A row stored under the user's lying name, as the portal did before.
    stored = default_storage.save(f"dossiers/{dossier.pk}/old/polyglot.html", ContentFile(POLYGLOT))
    attachment = Attachment.objects.create(
        application=dossier,
        kind="convention",
        file=stored,
        original_name="polyglot.html",
        content_type="application/pdf",
        size=len(POLYGLOT),
        uploaded_by=UserFactory(),
    )

    download = client.get(reverse("dossiers:download", args=[dossier.pk, attachment.pk]))

    assert download.status_code == 200
    assert _download_name(download) == "polyglot.pdf"
    assert download["Content-Type"] == "application/pdf"
    assert drain(download) == POLYGLOT
