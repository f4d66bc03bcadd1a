"""``python manage.py funding_quote FILE``: the funding simulator (JSON in, JSON out).

The quote uses the campaign defaults (``CampaignParameters()``) and the referential of
``grappes/referential_data.py``, so it needs no database. Exit 0 when a quote was computed
(eligible or not); exit 2 with one line on stderr and no traceback when the input cannot be read,
is not JSON, or is not of the contract's shape (docs/funding-rules.md).

Both streams are written as UTF-8 whatever the locale (``LANG=C``, ``PYTHONIOENCODING=latin-1``):
the output holds "€" and "—", and a terminal's encoding must not turn a quote into a traceback.
Text that cannot be encoded (a lone surrogate in the input) is refused by the input checks, with
the field named; a file name that is not UTF-8 is shown escaped.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser, OutputWrapper

from funding.quote_input import QuoteInputError, parse_quote_input, result_to_json, shown
from funding.referential import default_referential, default_region_codes
from funding.rules import CampaignParameters, compute_quote

STDIN = "-"
EXIT_INPUT_ERROR = 2


def read_error_message(path: str, error: Exception) -> str:
    """Why a file could not be read, in plain French."""
    if isinstance(error, FileNotFoundError):
        return f"le fichier « {path} » est introuvable"
    if isinstance(error, IsADirectoryError):
        return f"« {path} » est un dossier, pas un fichier"
    if isinstance(error, PermissionError):
        return f"le fichier « {path} » ne peut pas être lu (accès refusé)"
    if isinstance(error, UnicodeDecodeError):
        return f"« {path} » n'est pas un texte encodé en UTF-8"
    return f"le fichier « {path} » ne peut pas être lu ({error.__class__.__name__})"


def shown_path(path: str) -> str:
    """A file name as the user typed it, printable: undecodable bytes as ``\\xff`` escapes.

    On POSIX, ``sys.argv`` carries bytes that are not UTF-8 as lone surrogates
    (``surrogateescape``), which no stream can encode.
    """
    return shown(os.fsencode(path).decode("utf-8", "backslashreplace"))


def write_utf8(stream: OutputWrapper, text: str, *, errors: str = "strict") -> None:
    """Write ``text`` and a newline to ``stream`` as UTF-8 bytes, whatever its text encoding.

    A stream without a binary buffer (a ``StringIO`` given to ``call_command``) gets the text.
    """
    buffer = getattr(stream, "buffer", None)  # OutputWrapper passes attributes to its stream
    if buffer is None:
        stream.write(text)
        return
    data = (text + "\n").encode("utf-8", errors)  # encoded first: all or nothing is written
    stream.flush()
    buffer.write(data)
    buffer.flush()


def read_stdin() -> str:
    """Standard input as UTF-8 text (bytes when available, so a BOM or bad bytes are caught)."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # replaced by a text stream, e.g. in call_command tests
        return sys.stdin.read().removeprefix("\ufeff")
    return bytes(raw.read()).decode("utf-8-sig")


class Command(BaseCommand):
    help = (
        "Calcule un devis de financement ESMS numérique à partir d'un fichier JSON "
        "(« - » : entrée standard) et l'affiche en JSON."
    )
    # Pure computation: no system checks, no migration check, no database.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        """One positional argument: the input file, or ``-`` for standard input."""
        parser.add_argument("file", help="fichier JSON d'entrée, ou « - » pour l'entrée standard")

    def fail(self, message: str) -> NoReturn:
        """One line on stderr and exit code 2: a user's input error, never a traceback."""
        # Values quoted from the input could hold line breaks: keep the promise of one line.
        line = "funding_quote : " + " ".join(message.splitlines())
        # Messages escape what they quote; backslashreplace is the last guard against a traceback.
        write_utf8(self.stderr, self.stderr.style_func(line), errors="backslashreplace")
        sys.exit(EXIT_INPUT_ERROR)

    def read_input(self, path: str) -> str:
        """The input text from the file or from standard input (a BOM is tolerated)."""
        name = "entrée standard" if path == STDIN else shown_path(path)
        try:
            if path == STDIN:
                return read_stdin()
            with open(path, encoding="utf-8-sig") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as error:
            self.fail(read_error_message(name, error))

    def handle(self, *args: Any, **options: Any) -> None:
        """Read, check, compute, print; exit 2 on an unreadable or malformed input."""
        text = self.read_input(options["file"])
        try:
            request = parse_quote_input(text, regions=default_region_codes())
        except QuoteInputError as error:
            self.fail(str(error))
        result = compute_quote(
            request, parameters=CampaignParameters(), referential=default_referential()
        )
        write_utf8(self.stdout, json.dumps(result_to_json(result), ensure_ascii=False, indent=2))
