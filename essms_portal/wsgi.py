"""WSGI entry point (gunicorn essms_portal.wsgi)."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "essms_portal.settings.production")

try:
    application = get_wsgi_application()
except ImproperlyConfigured as error:
    # One line, no traceback; exit status 3 is gunicorn's "worker failed to boot": it stops
    # instead of restarting workers in a loop.
    sys.stderr.write(f"Configuration invalide / invalid configuration: {error}\n")
    sys.exit(3)
