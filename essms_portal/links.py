"""Absolute links to the portal, for what is read outside a browser request: e-mails, decision
letters, verification codes. Built from ``settings.PORTAL_BASE_URL`` (e.g.
``https://esms-numerique.example.gouv.fr``; required in production, local address in the demo),
never from a request's host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.urls import reverse


def portal_url(path: str) -> str:
    """The absolute URL of a path of the portal: ``/espace/`` → ``https://…/espace/``."""
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def portal_reverse(
    viewname: str,
    *,
    args: Sequence[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
) -> str:
    """``reverse()`` as an absolute URL of the portal."""
    return portal_url(reverse(viewname, args=args, kwargs=kwargs))
