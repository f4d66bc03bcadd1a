"""``python manage.py seed_demo``: load the demo dataset (idempotent)."""

from django.core.management.base import BaseCommand

from applications.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_small


class Command(BaseCommand):
    help = "Charge le jeu de données de démonstration (campagne 2023, grappe de 16 ESSMS, comptes)."

    def handle(self, *args: object, **options: object) -> None:
        summary = seed_small()
        if not summary.created:
            self.stdout.write("Jeu de démonstration déjà chargé : rien à faire.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Démonstration chargée : {summary.calls} appels, {summary.structures} ESSMS, "
                f"{summary.accounts} comptes."
            )
        )
        for email, role, _region, _title in DEMO_ACCOUNTS:
            self.stdout.write(f"  {email:28} ({role}) mot de passe : {DEMO_PASSWORD}")
