"""``python manage.py seed_demo [--scale small|national]``: load the demo dataset (idempotent).

``small`` (the default, what ``make demo`` loads): campaign 2023, a grappe of 16 ESSMS, one
account per role. ``national`` adds, on top of it, a synthetic national campaign (about 40 000
ESSMS, 8 000 gestionnaires, 1 900 grappes and their dossiers in every status).
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from applications.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_small
from applications.demo_national import EMAIL_DOMAIN, seed_national


class Command(BaseCommand):
    help = "Charge le jeu de données de démonstration (campagne 2023, grappe de 16 ESSMS, comptes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            choices=("small", "national"),
            default="small",
            help="small : jeu de démonstration (défaut) ; national : campagne nationale "
            "synthétique (≈ 40 000 ESSMS) en plus.",
        )
        parser.add_argument(
            "--seed", type=int, default=2023, help="graine du jeu national (reproductible)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = seed_small()
        if not summary.created:
            self.stdout.write("Jeu de démonstration déjà chargé : rien à faire.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Démonstration chargée : {summary.calls} appels, {summary.structures} ESSMS, "
                    f"{summary.accounts} comptes."
                )
            )
            for email, role, _region, _title in DEMO_ACCOUNTS:
                self.stdout.write(f"  {email:28} ({role}) mot de passe : {DEMO_PASSWORD}")
        if options["scale"] == "national":
            self._national(options["seed"])

    def _national(self, seed: int) -> None:
        national = seed_national(seed=seed, progress=self.stdout.isatty() and sys.stderr.isatty())
        if not national.created:
            self.stdout.write("Jeu national déjà chargé : rien à faire.")
            return
        statuses = ", ".join(f"{status} {n}" for status, n in sorted(national.statuses.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Jeu national chargé en {national.seconds:.0f} s : {national.organisations} "
                f"gestionnaires, {national.structures} établissements, {national.grappes} "
                f"grappes ({national.memberships} ESSMS), {national.applications} dossiers "
                f"({statuses}), {national.log_entries} entrées de journal."
            )
        )
        self.stdout.write(
            f"  Comptes porteur-<FINESS EJ>@{EMAIL_DOMAIN}, instructeur-<région>@{EMAIL_DOMAIN}, "
            f"valideur-<région>@{EMAIL_DOMAIN} ; mot de passe : {DEMO_PASSWORD}"
        )
