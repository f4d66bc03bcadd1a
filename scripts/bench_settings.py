"""Settings of ``make bench`` and ``make bench-load``: the local settings as production runs
them — ``DEBUG`` off (no query log, cached templates) — with plain static storage, so that no
``collectstatic`` manifest is needed (no measure fetches a static file), and the test client's
host allowed."""

from pathlib import Path

from essms_portal.settings.local import *  # noqa: F403
from essms_portal.settings.local import ALLOWED_HOSTS, LOGGING, STORAGES, VAR_DIR

DEBUG = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# whitenoise warns at start-up when STATIC_ROOT does not exist; no measure needs its files.
STATIC_ROOT = str(VAR_DIR / "bench-static")
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
# One line per login (axes) and per font (WeasyPrint) would drown the figures.
LOGGING = {
    **LOGGING,
    "loggers": {
        **LOGGING["loggers"],  # type: ignore[dict-item]
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "ERROR"},
    },
}
