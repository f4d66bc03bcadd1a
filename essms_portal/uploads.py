"""Upload checks: allowed types by content (not by extension), size, sanitised names.

Files are stored in the private storage (``PRIVATE_MEDIA_ROOT``, outside any web root) and
served only by views that first load the dossier through a role-scoped selector.
"""

from __future__ import annotations

import secrets
from pathlib import PurePath

import filetype
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import get_valid_filename

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Detected extension -> MIME type we serve it with.
ALLOWED_TYPES = {
    "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "jpg": "image/jpeg",
}
ALLOWED_LABEL = "PDF, ODT, DOCX, XLSX, PNG ou JPEG"


def detected_type(upload: UploadedFile) -> str | None:
    """The file's real type from its first bytes (magic numbers), or None."""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    return kind.extension if kind else None


def validate_upload(upload: UploadedFile) -> str:
    """Check an upload; return its MIME type or raise a ValidationError in French."""
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"Le fichier « {upload.name} » dépasse 10 Mo ({upload.size // 1024 // 1024} Mo).",
            code="too_large",
        )
    if not upload.size:
        raise ValidationError("Le fichier est vide.", code="empty")
    extension = detected_type(upload)
    if extension not in ALLOWED_TYPES:
        raise ValidationError(
            f"Le contenu de « {upload.name} » n'est pas un format accepté ({ALLOWED_LABEL}), "
            "quelle que soit son extension.",
            code="bad_type",
        )
    return ALLOWED_TYPES[extension]


def sanitised_name(name: str) -> str:
    """A safe display and storage name: no path, no odd characters, bounded length."""
    base = PurePath(name.replace("\\", "/")).name
    cleaned = get_valid_filename(base) or "document"
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    return f"{stem[:80]}{'.' + suffix[:10] if suffix else ''}"


def private_path(prefix: str, name: str) -> str:
    """Storage path with an unguessable directory, so names never collide or leak."""
    return f"{prefix}/{secrets.token_hex(16)}/{sanitised_name(name)}"
