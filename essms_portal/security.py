"""HTTP hardening that Django has no setting for, and the 500 page.

- :class:`PermissionsPolicyMiddleware` adds ``Permissions-Policy`` to every response: the
  portal uses no camera, microphone, geolocation, payment… so every feature is denied, for the
  page and anything it could embed. The Content-Security-Policy comes from django-csp
  (``CONTENT_SECURITY_POLICY`` in settings/base.py), the Referrer-Policy from Django
  (``SECURE_REFERRER_POLICY``).
- :func:`server_error` is ``handler500``: it renders ``500.html`` without a request context
  (no context processor, no database query: the database may be the cause) and says "the
  technical team has been told" only when someone really is (``ADMINS`` or Sentry).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class PermissionsPolicyMiddleware:
    """Deny every powerful browser feature (``Permissions-Policy``) on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def errors_reported() -> bool:
    """Whether a server error reaches someone: e-mail to ``ADMINS`` or Sentry."""
    return bool(settings.ADMINS) or bool(getattr(settings, "SENTRY_DSN", ""))


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the 500 page, telling the truth about who was told."""
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({"team_notified": errors_reported()}))
