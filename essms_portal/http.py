"""Small request helpers shared by the views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from essms_portal.accounts.models import User


def request_user(request: HttpRequest) -> User:
    """The signed-in user: LoginRequiredMiddleware guarantees one on every non-public view."""
    return cast(User, request.user)


def applicant_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Reserve a page to gestionnaires (403 for back-office users, who have their own pages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request_user(request).role != "gestionnaire":
            raise PermissionDenied("Espace réservé aux gestionnaires.")
        return view(request, *args, **kwargs)

    return wrapper
