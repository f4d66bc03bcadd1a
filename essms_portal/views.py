"""Project-level pages: home and health check."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from applications.selectors import calls_open


@login_not_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Public landing page: what the programme funds and the open calls."""
    return render(request, "home.html", {"calls": calls_open(), "title": "Accueil"})


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database readiness, for the container orchestrator."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
