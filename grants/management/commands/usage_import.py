"""``python manage.py usage_import FILE``: import a DUI editor's usage measurements.

CSV ``finess;indicator;value;measured_on`` (header required, UTF-8 or Latin-1). All or nothing,
idempotent (grants.measurements). Exit codes: 0 imported (or nothing new); 2 when the file cannot
be read (one line on stderr) or when lines are refused (one line per refused line, numbered,
then a summary line) — nothing is written in either case.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from essms_portal.accounts.models import User
from grants.measurements import ImportRejected, UnreadableFile, measurements_import

BAD_INPUT_EXIT_CODE = 2


class Command(BaseCommand):
    help = (
        "Importe un fichier de mesures d'usage (finess;indicator;value;measured_on) : tout ou "
        "rien, sans doublon si le fichier est importé deux fois."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Fichier CSV (séparateur point-virgule)")
        parser.add_argument("--by", help="Courriel de l'agent qui importe (journal)")
        parser.add_argument(
            "--dry-run", action="store_true", help="Vérifie le fichier sans rien enregistrer."
        )

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        sys.exit(BAD_INPUT_EXIT_CODE)

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            data = path.read_bytes()
        except OSError as error:
            self._fail(f"{path} : fichier illisible ({error.strerror or error}).")
            return
        by = None
        if options["by"]:
            by = User.objects.filter(email__iexact=options["by"]).first()
            if by is None:
                self._fail(f"--by : aucun compte {options['by']}.")
                return
        try:
            summary = measurements_import(
                data=data, filename=path.name, by=by, dry_run=options["dry_run"]
            )
        except UnreadableFile as error:
            self._fail(f"{path} : {error.message}")
            return
        except ImportRejected as error:
            for rejection in error.rejections:
                self.stderr.write(f"{path}:{rejection}")
            if error.total > len(error.rejections):
                self.stderr.write(f"… et {error.total - len(error.rejections)} autre(s).")
            self._fail(f"{path} : {error.message}")
            return
        verb = "vérifié (rien enregistré)" if options["dry_run"] else "importé"
        self.stdout.write(
            f"{path.name} {verb} : {summary.rows} mesure(s) — {summary.created} nouvelle(s), "
            f"{summary.updated} mise(s) à jour, {summary.unchanged} inchangée(s)."
        )
