"""``python manage.py funding_quote FILE``: the public funding simulator (JSON in, JSON out).

Exit 0 when a quote was computed (eligible or not); exit 2 with one line on stderr when the
input cannot be read, is not JSON, or is not of the contract's shape. Needs no database.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from funding.quote_input import QuoteInputError, known_regions, parse_quote_input, result_to_json
from funding.referential import default_referential
from funding.rules import CampaignParameters, compute_quote


class Command(BaseCommand):
    help = "Calcule un devis de financement à partir d'un fichier JSON (« - » : entrée standard)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="fichier JSON d'entrée, ou « - » pour l'entrée standard")

    def _fail(self, message: str) -> None:
        """One line on stderr, exit code 2, no traceback."""
        self.stderr.write(f"funding_quote : {message}")
        sys.exit(2)

    def _read(self, path: str) -> str:
        try:
            if path == "-":
                return sys.stdin.read()
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError) as error:
            self._fail(f"lecture impossible de « {path} » : {error.__class__.__name__}")
            raise AssertionError("unreachable") from error

    def handle(self, *args: Any, **options: Any) -> None:
        text = self._read(options["file"])
        referential = default_referential()
        try:
            request = parse_quote_input(text, regions=known_regions(referential.departments))
        except QuoteInputError as error:
            self._fail(str(error))
            return
        result = compute_quote(request, parameters=CampaignParameters(), referential=referential)
        self.stdout.write(json.dumps(result_to_json(result), ensure_ascii=False, indent=2))
