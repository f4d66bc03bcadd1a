"""``python manage.py usage_settlement FILE``: the second tranche's settlement (JSON in and out).

Pure computation (``funding.settlement``), no database: the grant, payments, usage targets,
validated measurements and policy all come from the input (docs/funding-rules.md, « Règlement de
la seconde tranche »). Exit 0 when a settlement was computed; exit 2 with one line on stderr and
no traceback when the input cannot be read, is not JSON, or is not of the contract's shape or
values. Reading and writing behave as ``funding_quote`` (UTF-8 whatever the locale, BOM
tolerated, ``-`` for standard input), whose helpers this command reuses.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from funding.management.commands.funding_quote import EXIT_INPUT_ERROR, write_utf8
from funding.management.commands.funding_quote import Command as QuoteCommand
from funding.quote_input import QuoteInputError
from funding.settlement import compute_settlement
from funding.settlement_input import parse_settlement_input, settlement_to_json


class Command(QuoteCommand):
    help = (
        "Calcule le règlement de la seconde tranche d'une subvention ESMS numérique (cibles "
        "d'usage, seconde tranche, titre de recette) à partir d'un fichier JSON (« - » : entrée "
        "standard) et l'affiche en JSON."
    )

    def fail(self, message: str) -> NoReturn:
        """One line on stderr and exit code 2: a user's input error, never a traceback."""
        line = "usage_settlement : " + " ".join(message.splitlines())
        write_utf8(self.stderr, self.stderr.style_func(line), errors="backslashreplace")
        sys.exit(EXIT_INPUT_ERROR)

    def handle(self, *args: Any, **options: Any) -> None:
        """Read, check, compute, print; exit 2 on an unreadable or malformed input."""
        text = self.read_input(options["file"])
        try:
            request = parse_settlement_input(text)
        except QuoteInputError as error:
            self.fail(str(error))
        result = compute_settlement(request)
        write_utf8(
            self.stdout, json.dumps(settlement_to_json(result), ensure_ascii=False, indent=2)
        )
