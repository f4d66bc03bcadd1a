"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "essms_portal.settings.local")

app = Celery("essms_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The project package is not an installed app: register its own tasks module explicitly.
app.autodiscover_tasks(["essms_portal"])
