"""The lockout backend: django-axes' standalone backend, first in AUTHENTICATION_BACKENDS."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    """Refuses every login attempt of a locked-out account or IP address, whatever the form
    (allauth's, the admin's). An ``authenticate()`` without a request is no web login (shell,
    management command, the test client's ``login()``): there is no IP to lock, it is let
    through to the other backends instead of failing."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)  # type: ignore[no-any-return]
