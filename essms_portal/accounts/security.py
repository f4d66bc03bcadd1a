"""Agents' account security: mandatory MFA and bounded sessions (issue #12).

Agents are the ARS, CNSA and administrator roles, and any ``is_staff`` user. They must have an
active allauth.mfa authenticator (TOTP) before any page other than the enrolment pages; their
sessions end after 30 minutes idle, 10 hours at most, and at browser close ("remember me" is for
gestionnaires only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .models import ARS_ROLES, Role

AGENT_ROLES = frozenset({*ARS_ROLES, Role.CNSA_AGENT, Role.ADMINISTRATOR})
AGENT_IDLE_TIMEOUT = 30 * 60
AGENT_MAX_SESSION_AGE = 10 * 60 * 60
LOGIN_AT_KEY = "_agent_login_at"
LAST_ACTIVITY_KEY = "_agent_last_activity"


def is_agent(user: Any) -> bool:
    """ARS, CNSA, administrator or staff: the users who reach the back office or the admin."""
    return bool(user.is_authenticated and (user.role in AGENT_ROLES or user.is_staff))


def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: an agent's session starts now and ends at browser close."""
    if request is None or not hasattr(request, "session") or not is_agent(user):
        return
    now = int(time.time())
    request.session[LOGIN_AT_KEY] = now
    request.session[LAST_ACTIVITY_KEY] = now
    request.session.set_expiry(0)


class AgentSessionMiddleware:
    """Log an agent out after 30 minutes idle or 10 hours since login."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_agent(request.user):
            session = request.session
            now = int(time.time())
            login_at = session.get(LOGIN_AT_KEY, now)
            last = session.get(LAST_ACTIVITY_KEY, now)
            if now - last > AGENT_IDLE_TIMEOUT or now - login_at > AGENT_MAX_SESSION_AGE:
                idle = now - last > AGENT_IDLE_TIMEOUT
                logout(request)
                messages.warning(
                    request,
                    "Votre session a expiré après 30 minutes d'inactivité : reconnectez-vous."
                    if idle
                    else "Votre session a atteint sa durée maximale de 10 heures : "
                    "reconnectez-vous.",
                )
                return redirect_to_login(request.get_full_path())
            # Activity is recorded to the minute: not one session write per request.
            if LOGIN_AT_KEY not in session or now - last >= 60:
                session[LOGIN_AT_KEY] = login_at
                session[LAST_ACTIVITY_KEY] = now
            # "Remember me" is for gestionnaires: an agent's session ends at browser close.
            if not session.get_expire_at_browser_close():
                session.set_expiry(0)
        return self.get_response(request)


def _mfa_exempt_prefixes() -> tuple[str, ...]:
    return (
        reverse("mfa_index"),
        reverse("account_logout"),
        reverse("account_reauthenticate"),
        settings.STATIC_URL or "/static/",
    )


class AgentMFAMiddleware:
    """Send an agent without an active authenticator to the TOTP enrolment page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            getattr(settings, "MFA_REQUIRED_FOR_AGENTS", True)
            and is_agent(user)
            and not request.path.startswith(_mfa_exempt_prefixes())
            and not is_mfa_enabled(user, [Authenticator.Type.TOTP])
        ):
            messages.warning(
                request,
                "La double authentification est obligatoire pour les agents ARS, CNSA et "
                "les administrateurs : activez-la avec une application d'authentification "
                "avant de continuer.",
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
