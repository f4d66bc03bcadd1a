"""Antivirus scan of uploads by ClamAV's daemon (clamd), before anything is stored.

A small client of clamd's ``INSTREAM`` command (the PyPI ``clamd`` package is unmaintained
since 2017): ``zINSTREAM\\0``, then chunks ``<4-byte big-endian length><data>``, ended by a
zero-length chunk; clamd answers ``stream: OK`` or ``stream: <signature> FOUND``.

Settings:

- ``ANTIVIRUS_SOCKET``: clamd's Unix socket path (``/run/clamav/clamd.ctl``) or
  ``tcp://host:3310``. Empty: scanning is disabled (demo, development), with a warning logged
  at each upload; then files are stored unscanned.
- ``ANTIVIRUS_REQUIRED``: when True (production), an upload is refused, nothing stored, while
  clamd cannot be reached or is not configured. When False, an upload that cannot be scanned
  is stored unscanned, with an error logged.
- ``ANTIVIRUS_TIMEOUT``: seconds to connect and to wait for the verdict.
"""

from __future__ import annotations

import logging
import socket
import struct
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
UNAVAILABLE_MESSAGE = (
    "L'analyse antivirus est momentanément indisponible : réessayez dans quelques minutes."
)


class ScannerUnavailable(Exception):
    """clamd could not be reached or gave no usable answer."""


def _connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("tcp://"):
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        return socket.create_connection((host, int(port)), timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def _reply(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\0"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def ping(address: str, timeout: float = 2.0) -> bool:
    """Whether clamd answers ``PONG`` at ``address``."""
    try:
        with _connect(address, timeout) as sock:
            sock.sendall(b"zPING\0")
            return _reply(sock) == "PONG"
    except OSError:
        return False


def scan_stream(stream: IO[bytes], address: str, timeout: float = 30.0) -> str | None:
    """The signature name clamd found in ``stream``, or None if clean. Raises
    ScannerUnavailable when clamd cannot be reached or does not answer as expected."""
    try:
        with _connect(address, timeout) as sock:
            sock.sendall(b"zINSTREAM\0")
            while chunk := stream.read(CHUNK_BYTES):
                sock.sendall(struct.pack(">I", len(chunk)) + chunk)
            sock.sendall(struct.pack(">I", 0))
            reply = _reply(sock)
    except OSError as error:
        raise ScannerUnavailable(f"clamd injoignable ({address}) : {error}") from error
    if reply.endswith("FOUND"):
        return reply.removeprefix("stream:").removesuffix("FOUND").strip()
    if reply == "stream: OK":
        return None
    raise ScannerUnavailable(f"Réponse inattendue de clamd : {reply!r}")


def scan_upload(upload: IO[bytes], *, name: str = "") -> None:
    """Scan an upload before it is stored; raise a ValidationError in French if it is
    infected, or if it cannot be scanned while ``ANTIVIRUS_REQUIRED``."""
    address = getattr(settings, "ANTIVIRUS_SOCKET", "")
    required = getattr(settings, "ANTIVIRUS_REQUIRED", False)
    if not address:
        if required:
            logger.error("ANTIVIRUS_SOCKET non configuré : dépôt refusé (ANTIVIRUS_REQUIRED).")
            raise ValidationError(UNAVAILABLE_MESSAGE, code="antivirus_unavailable")
        logger.warning(
            "Analyse antivirus désactivée (ANTIVIRUS_SOCKET vide) : %s non analysé.", name
        )
        return
    upload.seek(0)
    try:
        found = scan_stream(upload, address, getattr(settings, "ANTIVIRUS_TIMEOUT", 30.0))
    except ScannerUnavailable as error:
        if required:
            logger.error("%s : dépôt de %s refusé.", error, name)
            raise ValidationError(UNAVAILABLE_MESSAGE, code="antivirus_unavailable") from error
        logger.error("%s : %s stocké sans analyse (ANTIVIRUS_REQUIRED faux).", error, name)
        return
    finally:
        upload.seek(0)
    if found:
        logger.warning("Virus %s détecté dans %s : dépôt refusé.", found, name)
        raise ValidationError(
            f"Le fichier « {name} » contient un virus ou un logiciel malveillant ({found}) : "
            "il a été refusé et n'a pas été enregistré.",
            code="infected",
        )
