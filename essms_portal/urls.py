"""Root URLconf. Every view requires a login unless it opts out (LoginRequiredMiddleware)."""

from django.contrib import admin
from django.urls import include, path

from essms_portal.accounts.admin_login import admin_login
from grappes import espace_urls as organisations_urls

from . import views
from .security import server_error

# The 500 page says "the technical team was told" only when ADMINS or Sentry is configured.
handler500 = server_error

admin.site.site_header = "ESMS numérique — administration"
admin.site.site_title = "ESMS numérique"
admin.site.index_title = "Référentiel, campagnes et dossiers"
# Admin sign-in goes through allauth: MFA and the login rate limits apply (issue #12).
admin.site.login = admin_login  # type: ignore[method-assign]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("accessibilite/", views.accessibility, name="accessibility"),
    path("mentions-legales/", views.legal_notice, name="legal_notice"),
    path("donnees-personnelles/", views.personal_data, name="personal_data"),
    path("plan-du-site/", views.sitemap, name="sitemap"),
    path("comptes/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("applications.instruction.urls")),
    path("", include("applications.decisions.urls")),
    path("", include("grappes.urls")),
    # « Mon espace » shows organisations, grappes and dossiers: its view is the project's, the
    # rest of the ``organisations`` namespace is the referential's (grappes never imports
    # applications). One include, so one namespace.
    path(
        "espace/",
        include(
            (
                [path("", views.espace_home, name="home"), *organisations_urls.urlpatterns],
                organisations_urls.app_name,
            )
        ),
    ),
    path("espace/", include("applications.dossiers.urls")),
    path("", include("grants.urls")),
]
