"""Test settings: strict (unknown template variables fail), fast hashing, eager Celery by default.

The database is PostgreSQL when ``DATABASE_URL`` is set (CI), SQLite otherwise.
"""

from .base import *  # noqa: F403
from .base import DATABASES, POST_OFFICE, TEMPLATES, VAR_DIR, env

DEBUG = False
# A connection per request, as Django's default: the threads of the concurrency tests and of
# the live server end with their request, and the test database must have no session left when
# it is dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The outbox delivers to locmem (``mailoutbox``); a worker started by a fault test delivers
# to a real SMTP server of the test instead (OUTBOX_EMAIL_BACKEND and EMAIL_URL).
OUTBOX_DELIVERY_BACKEND = env("OUTBOX_EMAIL_BACKEND", default=EMAIL_BACKEND)
POST_OFFICE = {**POST_OFFICE, "BACKENDS": {"default": OUTBOX_DELIVERY_BACKEND}}
# Tests run tasks in-process unless a test starts a real worker (tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = True
# Plain static storage: the live server serves unhashed files to the browser tests.
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "test-private")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True


class _InvalidTemplateVariable(str):
    """Make any unknown template variable a test failure instead of a silent blank."""

    def __mod__(self, other: object) -> str:
        raise NameError(f"Variable de gabarit inconnue : {other}")


TEMPLATES[0]["OPTIONS"]["string_if_invalid"] = _InvalidTemplateVariable("%s")  # type: ignore[index]
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/15")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/15")
# A shared cache like production's, in the test database (created with it); cleared after each
# test that commits (tests/conftest.py), so runs and tests never share rate-limit state.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }
}
