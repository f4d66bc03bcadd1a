"""All settings of the portal, read from one ``environ.Env``.

Defaults make ``make demo`` work with nothing running (SQLite file under ``var/``, eager
Celery, console e-mail, local private media). ``DATABASE_URL``, ``CELERY_BROKER_URL`` /
``REDIS_URL`` and ``EMAIL_URL`` switch to the real services. ``production.py`` only hardens.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local/demo default only: production.py refuses to start without a real secret.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-demo-key-do-not-use-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "crispy_forms",
    "django_filters",
    "widget_tweaks",
    "dsfr",
    "essms_portal.accounts",
    "axes",
    "post_office",
    "grappes",
    "funding",
    "applications",
    "grants",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy (CONTENT_SECURITY_POLICY below) and Permissions-Policy headers.
    "csp.middleware.CSPMiddleware",
    "essms_portal.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Deny by default: every view needs a login unless decorated with @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Agents (ARS, CNSA, administrators): bounded sessions, then mandatory MFA (issue #12).
    "essms_portal.accounts.security.AgentSessionMiddleware",
    "essms_portal.accounts.security.AgentMFAMiddleware",
    # Last: turns a lockout (django-axes) into the French lockout page, HTTP 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "essms_portal.urls"
WSGI_APPLICATION = "essms_portal.wsgi.application"
ASGI_APPLICATION = "essms_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                # Not django-dsfr's ``site_config``: the portal's header and footer are its own
                # templates (templates/base.html), nothing reads SITE_CONFIG, and the processor
                # cost every page a query (issue #13).
            ],
            "libraries": {
                "money": "essms_portal.templatetags.money",
                "navigation": "essms_portal.templatetags.navigation",
            },
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# One connection per worker process, kept between requests (checked before reuse), instead of a
# new PostgreSQL backend per request: the connection's set-up cost every page of the load test
# a few milliseconds of latency and the server a process start (issue #13). 0 closes it after
# each request, as Django does by default.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses any login, right password or not, of a locked-out account or IP (axes).
    "essms_portal.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # French common passwords (azerty, motdepasse, soleil… with their usual suffixes).
    {
        "NAME": "django.contrib.auth.password_validation.CommonPasswordValidator",
        "OPTIONS": {
            "password_list_path": BASE_DIR / "essms_portal/accounts/common-passwords-fr.txt.gz"
        },
    },
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # CNIL délibération n° 2022-100: 12 characters of 3 classes out of 4, or a 16-char passphrase.
    {"NAME": "essms_portal.accounts.validators.CnilPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "organisations:home"
SITE_ID = 1

# allauth 65: e-mail login, mandatory verification, login rate limits left on (defaults).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[ESMS numérique] "
# allauth.mfa: TOTP with recovery codes; mandatory for agents (essms_portal.accounts.security).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "ESMS numérique"
MFA_REQUIRED_FOR_AGENTS = True

LANGUAGE_CODE = "fr-fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Private uploads live outside any web root and are served only by permission-checked views.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Manifest storage rewrites the DSFR CSS, so its SRI hashes would no longer match.
DSFR_USE_INTEGRITY_CHECKSUMS = False
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Antivirus (essms_portal/antivirus.py): clamd's Unix socket path or tcp://host:3310. Empty:
# scanning disabled (demo, development; a warning is logged at each upload). When required,
# an upload is refused, nothing stored, while clamd cannot answer.
ANTIVIRUS_SOCKET = env("ANTIVIRUS_SOCKET", default="")
ANTIVIRUS_REQUIRED = env.bool("ANTIVIRUS_REQUIRED", default=bool(ANTIVIRUS_SOCKET))
ANTIVIRUS_TIMEOUT = env.float("ANTIVIRUS_TIMEOUT", default=30.0)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_485_760

# Django's widget templates, the commonest drawn in Python with the same output (issue #13).
FORM_RENDERER = "essms_portal.form_renderer.WidgetRenderer"
CRISPY_ALLOWED_TEMPLATE_PACKS = ["dsfr"]
CRISPY_TEMPLATE_PACK = "dsfr"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Every e-mail goes through the outbox (essms_portal/outbox.py): Django's backend only records
# it in the database, in the caller's transaction; a worker delivers it through the real
# transport configured by EMAIL_URL, retrying failures (admin: « Post Office »).
OUTBOX_DELIVERY_BACKEND = EMAIL_CONFIG["EMAIL_BACKEND"]
EMAIL_BACKEND = "essms_portal.outbox.OutboxEmailBackend"
# An SMTP server that accepts the connection then hangs must not hold a worker forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
POST_OFFICE = {
    "BACKENDS": {"default": OUTBOX_DELIVERY_BACKEND},
    "DEFAULT_PRIORITY": "medium",
    # Delivery retries after the first failure (delays 1, 2, 4 … 60 min: outbox.retry_delay).
    "MAX_RETRIES": env.int("EMAIL_MAX_RETRIES", default=8),
    # Sending is triggered by essms_portal.outbox, never by post_office's own Celery hook.
    "CELERY_ENABLED": False,
    "LOG_LEVEL": 2,
    "MESSAGE_ID_ENABLED": True,
}
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="ESMS numérique <no-reply@esms-numerique.localhost>"
)

# Celery: eager (in-process) unless a broker is configured.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=not (REDIS_URL or env("CELERY_BROKER_URL", default=""))
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that is down never holds a user's request: publishing fails fast (one attempt,
# short timeouts; about 0.1 s with Redis stopped, 19 s with Celery's defaults) and
# essms_portal.outbox.enqueue logs it; the periodic sweep below queues the work again.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_TIMEOUT", default=1.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": 10.0,
    "max_retries": 0,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = 10.0

# Server errors reach someone (docs/operations.md): an e-mail to ADMINS, through the outbox,
# for every unhandled exception and 5xx (logger "django", DEBUG off), and Sentry when
# SENTRY_DSN is set (settings/production.py). DJANGO_ADMINS="Nom <mail>,Autre <mail2>".
ADMINS = [
    (name.strip(), address.strip().rstrip(">"))
    for name, _, address in (
        entry.strip().rpartition("<") for entry in env.list("DJANGO_ADMINS", default=[])
    )
]
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = "[ESMS numérique] "
SENTRY_DSN = env("SENTRY_DSN", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    # Replaces Django's default "django" logger (console in DEBUG, mail_admins): one e-mail per
    # error, console output through root.
    "loggers": {"django": {"handlers": ["mail_admins"], "level": "INFO"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# Content-Security-Policy (django-csp 4; docs/operations.md): only the portal's own files. No
# inline script or event handler anywhere (templates load static/js/*.js); no inline style
# either: DSFR's CSS and JS need none (its JS sets styles through the CSSOM, which CSP does not
# restrict). data: images: DSFR's CSS draws its icons and some backgrounds as data: URIs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"

PORTAL_NAME = "ESMS numérique"
# Legal pages (mentions légales, données personnelles, accessibilité; templates/pages/). The
# defaults name only what is true of the programme; what depends on the deployment (host,
# contacts, publication director) stays empty and the pages then say it is to be configured.
PORTAL_EDITOR = env(
    "PORTAL_EDITOR", default="Caisse nationale de solidarité pour l'autonomie (CNSA)"
)
PORTAL_EDITOR_ADDRESS = env("PORTAL_EDITOR_ADDRESS", default="66 avenue du Maine, 75014 Paris")
PORTAL_PUBLICATION_DIRECTOR = env("PORTAL_PUBLICATION_DIRECTOR", default="")
PORTAL_HOSTING = env("PORTAL_HOSTING", default="")
PORTAL_CONTACT_EMAIL = env("PORTAL_CONTACT_EMAIL", default="")
PORTAL_DPO_CONTACT = env("PORTAL_DPO_CONTACT", default="")
PORTAL_ACCESSIBILITY_AUDIT_DATE = env("PORTAL_ACCESSIBILITY_AUDIT_DATE", default="")
# Absolute address printed on decision letters (verification URL) and in e-mails.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

CELERY_BEAT_SCHEDULE = {
    # Queue again what could not be published (broker down) or was lost: outbox e-mails,
    # decision exports, FINESS imports (essms_portal.tasks.sweep).
    "sweep": {"task": "essms_portal.tasks.sweep", "schedule": 60},
    "complement-reminders": {
        "task": "applications.tasks.send_complement_reminders",
        "schedule": 24 * 60 * 60,
    },
    # Reminders before the grants' convention and measurement deadlines (grants.reminders).
    "follow-up-reminders": {
        "task": "grants.tasks.send_follow_up_reminders",
        "schedule": 24 * 60 * 60,
    },
}

# Login security (issue #12): shared cache, lockout, audit. See docs/operations.md.
# A cache shared by every process (gunicorn workers, hosts), so that allauth's rate limits hold
# across them: Redis when REDIS_URL is set, otherwise the database (`manage.py createcachetable`).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    )
}
# The dashboard's exact "requested" amounts are cached per campaign (applications.reporting.
# dashboard); every change of a submitted dossier renews them, this bounds how long an edit made
# elsewhere (campaign parameters in the admin, referential) takes to show, in seconds.
DASHBOARD_QUOTES_TTL = env.int("DASHBOARD_QUOTES_TTL", default=600)
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/ip,5/5m/key",
    "login": "30/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
# django-axes: every login form (allauth's, the admin's, any authenticate(request, …)) is
# locked after AXES_FAILURE_LIMIT failures, per account and, separately, per IP address, for
# AXES_COOLOFF_TIME. Attempts are stored in the database, hence shared by all processes.
# Unlock: `manage.py axes_reset_username <e-mail>` / `axes_reset_ip <ip>` or the admin
# (Axes, Access attempts: delete the rows).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME_HOURS", default=0.25)  # hours (15 min)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_USERNAME_CALLABLE = "essms_portal.accounts.lockout.login_identifier"
AXES_LOCKOUT_TEMPLATE = "account/lockout.html"
# No start-up banner on every process (commands print only their own output); lockouts and
# failed attempts are still logged by axes.handlers.
LOGGING.setdefault("loggers", {})["axes.apps"] = {"level": "WARNING"}  # type: ignore[index]
# Not reset by a success: with IP lockout, a login to one's own account would otherwise erase
# the failures from that address against other accounts. Failures expire after the cool-off.
AXES_RESET_ON_SUCCESS = False
# Behind a reverse proxy, set AXES_IPWARE_PROXY_COUNT / AXES_IPWARE_META_PRECEDENCE_ORDER.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=None)
AXES_IPWARE_META_PRECEDENCE_ORDER = env.tuple(
    "AXES_IPWARE_META_PRECEDENCE_ORDER", default=("REMOTE_ADDR",)
)
# Login audit (accounts.LoginEvent): rows older than this are purged daily.
LOGIN_AUDIT_RETENTION_DAYS = env.int("LOGIN_AUDIT_RETENTION_DAYS", default=365)
CELERY_BEAT_SCHEDULE["login-audit-purge"] = {
    "task": "essms_portal.accounts.tasks.purge_login_events",
    "schedule": 24 * 60 * 60,
}
