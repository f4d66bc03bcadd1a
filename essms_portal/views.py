"""Project-level pages: home, health check and the applicant's « Mon espace », which shows
both the referential (organisations, grappes) and the dossiers."""

from django.conf import settings
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


def _legal_page(request: HttpRequest, template: str, title: str) -> HttpResponse:
    """The footer's mandatory pages read what depends on the deployment (host, contacts,
    director of publication) from settings; an empty setting is shown as « à configurer »."""
    return render(
        request,
        f"pages/{template}.html",
        {
            "title": title,
            "editor": settings.PORTAL_EDITOR,
            "editor_address": settings.PORTAL_EDITOR_ADDRESS,
            "publication_director": settings.PORTAL_PUBLICATION_DIRECTOR,
            "hosting": settings.PORTAL_HOSTING,
            "contact_email": settings.PORTAL_CONTACT_EMAIL,
            "dpo_contact": settings.PORTAL_DPO_CONTACT,
            "audit_date": settings.PORTAL_ACCESSIBILITY_AUDIT_DATE,
            "login_audit_days": settings.LOGIN_AUDIT_RETENTION_DAYS,
        },
    )


@login_not_required
@require_GET
def accessibility(request: HttpRequest) -> HttpResponse:
    """Déclaration d'accessibilité (RGAA): compliance status, automated audit, known
    non-conformities, contact and recourse."""
    return _legal_page(request, "accessibilite", "Déclaration d'accessibilité")


@login_not_required
@require_GET
def legal_notice(request: HttpRequest) -> HttpResponse:
    """Mentions légales: editor, director of publication, host."""
    return _legal_page(request, "mentions_legales", "Mentions légales")


@login_not_required
@require_GET
def personal_data(request: HttpRequest) -> HttpResponse:
    """Données personnelles: what is processed, why, for how long, and the user's rights."""
    return _legal_page(request, "donnees_personnelles", "Données personnelles")


@login_not_required
@require_GET
def sitemap(request: HttpRequest) -> HttpResponse:
    """Plan du site: every section, the ones the user may open as links."""
    return _legal_page(request, "plan_du_site", "Plan du site")


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
