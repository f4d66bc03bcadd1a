"""What identifies the account of a login attempt, for the lockout and the audit."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

# allauth authenticates with ``email=``, Django's forms (admin) with ``username=`` (the
# USERNAME_FIELD, here the e-mail); allauth's form field is ``login``.
_FIELDS = ("email", "username", "login")


def login_identifier(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The identifier typed at login, lower-cased (e-mails are stored lower-case), or ""."""
    for source in (credentials or {}, getattr(request, "POST", None) or {}):
        for field in _FIELDS:
            value = source.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()[:254]
    return ""
