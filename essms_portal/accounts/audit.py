"""The login audit: signal receivers writing ``LoginEvent`` rows, and their purge.

Receivers: Django's ``user_logged_in`` / ``user_login_failed`` / ``user_logged_out`` (every
login form, the admin's included), allauth's ``password_changed`` / ``password_reset`` and,
only when ``allauth.mfa`` is installed, its ``authenticator_added`` / ``authenticator_removed``
(connected in ``AccountsConfig.ready``). Recording never breaks a login: a failure is logged.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .lockout import login_identifier

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as the lockout sees it (axes' IP settings, proxy included)."""
    if request is None:
        return None
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or None


def record(
    kind: str,
    request: HttpRequest | None,
    user: Any = None,
    identifier: str = "",
) -> None:
    from .models import LoginEvent

    if user is not None and not getattr(user, "pk", None):
        user = None
    if not identifier and user is not None:
        identifier = user.email
    try:
        # A savepoint: a failed write must not break the request's transaction.
        with transaction.atomic():
            LoginEvent.objects.create(
                kind=kind,
                user=user,
                identifier=identifier[:254],
                ip_address=client_ip(request),
                user_agent=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:500],
            )
    except Exception:
        logger.exception("Journal des connexions : l'événement « %s » n'a pu être écrit.", kind)


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record("login", request, user)


def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record("logout", request, user)


def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    identifier = login_identifier(request, credentials)
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    user = (
        user_model._default_manager.filter(email__iexact=identifier).first() if identifier else None
    )
    record("login_failed", request, user, identifier)


def _password_changed(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record("password_changed", request, user)


def _password_reset(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record("password_reset", request, user)


def _mfa_added(sender: Any, request: HttpRequest | None, authenticator: Any, **kwargs: Any) -> None:
    record("mfa_enrolled", request, authenticator.user)


def _mfa_removed(
    sender: Any, request: HttpRequest | None, authenticator: Any, **kwargs: Any
) -> None:
    record("mfa_removed", request, authenticator.user)


def connect() -> None:
    """Connect the receivers (once: dispatch_uid)."""
    user_logged_in.connect(_logged_in, dispatch_uid="login_audit_logged_in")
    user_logged_out.connect(_logged_out, dispatch_uid="login_audit_logged_out")
    user_login_failed.connect(_login_failed, dispatch_uid="login_audit_failed")
    from allauth.account import signals as account_signals

    account_signals.password_changed.connect(_password_changed, dispatch_uid="login_audit_pw_chg")
    account_signals.password_reset.connect(_password_reset, dispatch_uid="login_audit_pw_reset")
    # allauth.mfa is optional: its signals exist only once it is installed.
    if apps.is_installed("allauth.mfa"):
        from allauth.mfa import signals as mfa_signals

        mfa_signals.authenticator_added.connect(_mfa_added, dispatch_uid="login_audit_mfa_add")
        mfa_signals.authenticator_removed.connect(_mfa_removed, dispatch_uid="login_audit_mfa_rm")


def purge(now: datetime.datetime | None = None) -> int:
    """Delete the events older than ``LOGIN_AUDIT_RETENTION_DAYS``; return how many."""
    from .models import LoginEvent

    days = getattr(settings, "LOGIN_AUDIT_RETENTION_DAYS", 365)
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    deleted, _ = LoginEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
