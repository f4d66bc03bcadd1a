"""``python manage.py follow_up_reminders [--date YYYY-MM-DD]``: send the reminders before the
follow-up deadlines now, as the daily task does (``grants.reminders``). Safe to run again: a
reminder already sent is never sent twice. ``--date`` runs as of that day (catching up a day the
task missed, or checking what a day would send); the default is today."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from grants.reminders import follow_up_reminders_send


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"« {value} » n'est pas une date AAAA-MM-JJ.") from None


class Command(BaseCommand):
    help = (
        "Envoie les relances par courriel avant les échéances du suivi (signature de la "
        "convention, mesures d'usage) ; une relance déjà envoyée ne l'est jamais deux fois."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", help="Jour de référence AAAA-MM-JJ (par défaut : aujourd'hui)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = _date(options["date"]) if options["date"] else timezone.localdate()
        sent = follow_up_reminders_send(today=today)
        self.stdout.write(f"{sent} courriel{'s' if sent > 1 else ''} de relance mis en file.")
