"""The production secret key check: a weak ``DJANGO_SECRET_KEY`` stops start-up (one line)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

MIN_LENGTH = 50
# Defaults that were ever written in this repository (docker-compose.yml, .env.example,
# settings/base.py) or by Django's startproject.
KNOWN_DEFAULTS = frozenset(
    {
        "change-me-in-dot-env",
        "a-long-random-string",
        "insecure-local-demo-key-do-not-use-in-production",
    }
)


def check_secret_key(value: str | None) -> str:
    """``value`` if it is fit for production, else :class:`ImproperlyConfigured` (one line)."""
    advice = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    if not value:
        problem = "DJANGO_SECRET_KEY est absente / is missing"
    elif value in KNOWN_DEFAULTS or value.startswith("django-insecure-"):
        problem = "DJANGO_SECRET_KEY est une valeur par défaut connue / is a known default"
    elif len(value) < MIN_LENGTH or len(set(value)) < 5:
        problem = (
            f"DJANGO_SECRET_KEY est trop courte ou trop simple / is too short or too simple "
            f"(< {MIN_LENGTH} caractères / characters)"
        )
    else:
        return value
    raise ImproperlyConfigured(f"{problem}: {advice}")
