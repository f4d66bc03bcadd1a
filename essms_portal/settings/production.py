"""Production: base settings hardened; secrets and hosts must come from the environment."""

from .base import *  # noqa: F403
from .base import SENTRY_DSN, env
from .secret_key import check_secret_key

DEBUG = False
# Missing, short or known-default secret: start-up stops with one line (manage.py, wsgi.py).
SECRET_KEY = check_secret_key(env("DJANGO_SECRET_KEY", default=""))
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Decision letters print this address: it must be the real public one.
PORTAL_BASE_URL = env("PORTAL_BASE_URL")
# Every upload is scanned by clamd before it is stored; without an answer it is refused.
ANTIVIRUS_REQUIRED = True

# Optional error reporting to Sentry (or a compatible service: GlitchTip…), only when
# SENTRY_DSN is set. No personal data is sent (send_default_pii=False), no tracing.
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration()],
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        send_default_pii=False,
        traces_sample_rate=0.0,
    )
