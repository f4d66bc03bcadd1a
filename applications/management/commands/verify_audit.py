"""``python manage.py verify_audit``: walk every dossier's hash chain, report the first break."""

from django.core.management.base import BaseCommand, CommandError

from applications.models import Application, WorkflowLog
from applications.workflow import verify_chain


class Command(BaseCommand):
    help = "Vérifie l'intégrité du journal des transitions (chaîne d'empreintes SHA-256)."

    def handle(self, *args: object, **options: object) -> None:
        checked = 0
        for application_id in Application.objects.order_by("id").values_list("id", flat=True):
            entries = list(WorkflowLog.objects.filter(application_id=application_id).order_by("id"))
            broken = verify_chain(entries)
            if broken is not None:
                raise CommandError(
                    f"Journal altéré : dossier n° {application_id}, entrée n° {broken.pk} "
                    f"({broken.action}, {broken.created_at:%d/%m/%Y %H:%M:%S}) ne correspond pas "
                    "à son empreinte.",
                    returncode=1,
                )
            checked += len(entries)
        self.stdout.write(self.style.SUCCESS(f"Journal intègre : {checked} entrées vérifiées."))
