"""``python manage.py seed_follow_up``: grants at every stage of the follow-up, on top of
``seed_demo`` (idempotent; see grants/demo.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from grants.demo import seed_follow_up


class Command(BaseCommand):
    help = "Charge le suivi des financements de démonstration (après seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        for line in seed_follow_up():
            self.stdout.write(line)
