"""Small request helpers shared by the views."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from essms_portal.accounts.models import User


def request_user(request: HttpRequest) -> User:
    """The signed-in user: LoginRequiredMiddleware guarantees one on every non-public view."""
    return cast(User, request.user)
