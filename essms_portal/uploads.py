"""Upload checks: allowed types by content (not by extension), size, sanitised names.

Files are stored in the private storage (``PRIVATE_MEDIA_ROOT``, outside any web root) and
served only by views that first load the dossier through a role-scoped selector. The stored
and served names carry the extension of the detected type, whatever the user named the file
(a PDF named ``setup.exe`` or ``page.html`` becomes ``setup.pdf``, ``page.pdf``; issue #9).
"""

from __future__ import annotations

import re
import secrets
from pathlib import PurePath
from typing import NamedTuple

import filetype
from django.core.exceptions import SuspiciousFileOperation, ValidationError
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
# Other spellings of a detected extension a user's name may keep (``photo.jpeg`` stays so).
EXTENSION_ALIASES = {"jpg": frozenset({"jpg", "jpeg"})}
# What looks like an extension to replace (``exe``, ``html``, ``svg``, ``PDF``), rather than a
# part of the name to keep (``v1.2_final``).
_EXTENSION_LIKE = re.compile(r"[A-Za-z0-9]{1,5}")


class CheckedUpload(NamedTuple):
    """What ``validate_upload`` found: the served MIME type and the detected extension."""

    content_type: str
    extension: str


def detected_type(upload: UploadedFile) -> str | None:
    """The file's real type from its first bytes (magic numbers), or None."""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    return kind.extension if kind else None


def validate_upload(upload: UploadedFile) -> CheckedUpload:
    """Check an upload; return its MIME type and detected extension, or raise a
    ValidationError in French."""
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
    return CheckedUpload(content_type=ALLOWED_TYPES[extension], extension=extension)


def sanitised_name(name: str) -> str:
    """A safe display and storage name: no path, no odd characters, bounded length."""
    base = PurePath(name.replace("\\", "/")).name
    try:
        cleaned = get_valid_filename(base) or "document"
    except SuspiciousFileOperation:  # nothing usable left ("", "???", ".."): a neutral name
        cleaned = "document"
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    return f"{stem[:80]}{'.' + suffix[:10] if suffix else ''}"


def stored_name(name: str, extension: str) -> str:
    """The sanitised name with the detected type's ``extension``: the user's stem is kept, a
    lying extension replaced (``setup.exe`` → ``setup.pdf``, ``img.svg`` → ``img.png``), a
    missing one appended (``rapport`` → ``rapport.pdf``), the case normalised
    (``rapport.PDF`` → ``rapport.pdf``); ``photo.jpeg`` stays for a JPEG."""
    cleaned = sanitised_name(name)
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or not _EXTENSION_LIKE.fullmatch(suffix):
        stem, suffix = cleaned, ""  # no extension, or a dot inside the name: append
    stem = stem.strip(".") or "document"
    suffix = suffix.lower()
    kept = (
        suffix if suffix in EXTENSION_ALIASES.get(extension, frozenset({extension})) else extension
    )
    return f"{stem[:80]}.{kept}"


def extension_for(content_type: str) -> str | None:
    """The extension of an allowed MIME type (``application/pdf`` → ``pdf``), or None."""
    return next((ext for ext, mime in ALLOWED_TYPES.items() if mime == content_type), None)


def served_name(name: str, content_type: str) -> str:
    """The download name of a stored file: its name with the extension of the MIME type it is
    served with (also fixes rows stored before names carried the detected extension)."""
    extension = extension_for(content_type)
    return stored_name(name, extension) if extension else sanitised_name(name)


def private_path(prefix: str, name: str) -> str:
    """Storage path with an unguessable directory, so names never collide or leak."""
    return f"{prefix}/{secrets.token_hex(16)}/{sanitised_name(name)}"
