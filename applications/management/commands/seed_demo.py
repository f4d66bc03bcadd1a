"""``python manage.py seed_demo [--scale small|national]``: load the demo dataset (idempotent).

``small`` (the default, what ``make demo`` loads): campaign 2023, the porteur's draft and a
dossier at each step of the journeys (issued decision, refusal, envelope override, another
region, national call, pending member and invitation), one account per role (README).
``national`` adds, on top of it, a synthetic national campaign (about 40 000 ESSMS, 8 000
gestionnaires, 1 900 grappes and their dossiers in every status).

On PostgreSQL the command ends with ``ANALYZE``: without statistics on the freshly loaded
tables the planner guesses (and JIT-compiles) its way to slow plans — the CNSA queue took
850 ms per query on the national dataset.
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from applications.demo.national import EMAIL_DOMAIN, seed_national
from applications.demo.simple import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    DemoSummary,
    seed_small,
)


def analyze() -> bool:
    """Refresh the planner's statistics after a bulk load (PostgreSQL only); whether it ran."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return True


class Command(BaseCommand):
    help = "Charge le jeu de données de démonstration (campagne 2023, dossiers, comptes)."

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
                self.stdout.write(f"  {email:30} ({role}) mot de passe : {DEMO_PASSWORD}")
            self.stdout.write(
                f"  Double authentification des agents (ARS, CNSA, administration) : secret TOTP "
                f"{DEMO_TOTP_SECRET} à ajouter dans une application d'authentification "
                f"(ou `oathtool --totp -b {DEMO_TOTP_SECRET}`)."
            )
        if options["scale"] == "national":
            self._national(options["seed"])
        if analyze():
            self.stdout.write("Statistiques du planificateur PostgreSQL mises à jour (ANALYZE).")
        self._journeys(summary)

    def _journeys(self, summary: DemoSummary) -> None:
        """What a visitor needs to walk the journeys that cannot be found by clicking."""
        for note in summary.notes:
            self.stdout.write(self.style.WARNING(note))
        if summary.decision_number:
            self.stdout.write(
                f"Décision émise n° {summary.decision_number}, code de vérification "
                f"{summary.decision_code} : {summary.decision_url}"
            )
        if summary.invitation_url:
            self.stdout.write(
                f"Invitation en attente pour invite@demo.esms.fr : {summary.invitation_url}"
            )

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
            f"valideur-<région>@{EMAIL_DOMAIN} (décide), valideur2-<région>@{EMAIL_DOMAIN} "
            f"(renvoie en instruction), cnsa-validation@{EMAIL_DOMAIN} ; appel national : "
            f"cnsa@demo.esms.fr instruit, cnsa2@demo.esms.fr décide ; mot de passe : "
            f"{DEMO_PASSWORD} ; secret TOTP des agents : {DEMO_TOTP_SECRET}"
        )
