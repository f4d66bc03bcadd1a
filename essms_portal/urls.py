"""Root URLconf. Every view requires a login unless it opts out (LoginRequiredMiddleware)."""

from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "ESMS numérique — administration"
admin.site.site_title = "ESMS numérique"
admin.site.index_title = "Référentiel, campagnes et dossiers"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("comptes/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("applications.instruction.urls")),
    path("", include("applications.decisions.urls")),
    path("", include("grappes.urls")),
    path("espace/", include("grappes.espace_urls")),
    path("espace/", include("applications.dossiers.urls")),
]
