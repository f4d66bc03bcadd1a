"""Referential URLs, included at the root: ``path("", include("grappes.urls"))``."""

from django.urls import path

from . import views

app_name = "grappes"

urlpatterns = [
    path("api/finess/<str:finess>/", views.finess_lookup, name="finess_lookup"),
]
