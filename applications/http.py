"""Request helpers shared by the dossier, instruction and decision views (never import another
view module's helpers: they live here or in ``essms_portal.http``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from essms_portal.http import request_user

from .permissions import is_back_office

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def back_office(view: View) -> View:
    """Reserve a view to ARS and CNSA agents and administrators (403 for applicants)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_back_office(request_user(request)):
            raise PermissionDenied("Espace réservé aux agents ARS et CNSA.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)
