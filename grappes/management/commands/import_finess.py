"""``python manage.py import_finess PATH``: load the etalab FINESS establishment extract.

All or nothing: the import is one transaction. Exit codes: 0 when the file was imported
(rejected lines are listed with their number, they do not fail the run); 1 when the file cannot
be opened or the database fails during the import; 2 when it cannot be read as a FINESS extract
(no marker, a marker date that is not a date, no line of a known type). On 1 and 2: one line on
stderr, no traceback, nothing written.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from tqdm import tqdm

from grappes.finess.importer import ImportReport, NotAFinessExtract, finess_import

NOT_AN_EXTRACT_EXIT_CODE = 2


class Command(BaseCommand):
    help = (
        "Importe l'extrait FINESS des établissements publié par etalab (data.gouv.fr) : crée ou "
        "met à jour les établissements et leurs entités juridiques, sans rien changer aux lignes "
        "identiques."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Fichier etalab-cs1100507-stock-AAAAMMJJ-HHMM.csv")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Simule l'import et affiche le compte rendu sans rien enregistrer.",
        )
        parser.add_argument("--quiet", action="store_true", help="Sans barre de progression.")

    def handle(self, *args: Any, **options: Any) -> None:
        # The bar goes to stderr, only when a person watches the terminal.
        show_bar = not options["quiet"] and self.stdout.isatty()
        try:
            size: int | None = os.path.getsize(options["path"])
        except OSError:
            size = None  # reported by the import itself
        with tqdm(
            total=size,
            unit="o",
            unit_scale=True,
            desc="Import FINESS",
            disable=not show_bar,
            file=sys.stderr,
        ) as bar:

            def advance(done: int, total: int, report: ImportReport) -> None:
                if total and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            try:
                report = finess_import(
                    path_or_stream=options["path"],
                    dry_run=options["dry_run"],
                    progress=advance,
                )
            except NotAFinessExtract as error:
                raise CommandError(error.message, returncode=NOT_AN_EXTRACT_EXIT_CODE) from None
            except OSError as error:
                # A name that is not UTF-8 reaches argv as lone surrogates: show it escaped.
                shown = os.fsencode(options["path"]).decode("utf-8", "backslashreplace")
                raise CommandError(
                    f"Lecture impossible de « {shown} » : {error.strerror or error}."
                ) from None
            except DatabaseError as error:
                detail = " ".join(str(error).split())[:200] or error.__class__.__name__
                raise CommandError(
                    f"L'import a échoué sur une erreur de la base de données ({detail}) : "
                    "aucune donnée n'a été enregistrée."
                ) from None
        # Rejected lines are always listed; warnings in full only when asked for.
        text = report.as_text(max_warnings=None if options["verbosity"] >= 2 else 20)
        style = self.style.SUCCESS if not report.rejected else self.style.WARNING
        first, _, rest = text.partition("\n")
        self.stdout.write(style(first))
        if rest:
            self.stdout.write(rest)
