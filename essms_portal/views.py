"""Project-level pages: home, health check and the applicant's « Mon espace », which shows
both the referential (organisations, grappes) and the dossiers."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from applications.selectors import applications_visible_to, calls_open, campaign_current
from grappes.selectors import grappes_of, organisation_requests_of

from .http import request_user as _user


@login_not_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Public landing page: what the programme funds (the current campaign's figures) and the
    open calls."""
    return render(
        request,
        "home.html",
        {"calls": calls_open(), "campaign": campaign_current(), "title": "Accueil"},
    )


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database readiness, for the container orchestrator."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def espace_home(request: HttpRequest) -> HttpResponse:
    """« Mon espace » (``organisations:home``): the applicant's organisations, grappes and
    dossiers. It shows both apps, so it lives here, above them (see docs/architecture.md)."""
    user = _user(request)
    if user.role != "gestionnaire":
        return redirect("applications:queue")
    memberships = organisation_requests_of(user=user)
    return render(
        request,
        "espace/home.html",
        {
            "title": "Mon espace",
            "memberships": memberships,
            "grappes": grappes_of(user=user).select_related("porteur"),
            "applications": applications_visible_to(user=user).select_related("grappe", "call"),
        },
    )
