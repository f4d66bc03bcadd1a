"""Applicant URLs for organisations and grappes. The namespace's ``home`` (« Mon espace », which
also lists dossiers) is added by the root URLconf, ``essms_portal.urls``: grappes never
imports applications."""

from django.urls import path

from . import espace_views as views

app_name = "organisations"

urlpatterns = [
    path("organisations/rattacher/", views.organisation_join, name="join"),
    path("organisations/<int:pk>/", views.organisation_detail, name="detail"),
    path(
        "organisations/<int:pk>/membres/<int:member_pk>/confirmer/",
        views.member_confirm,
        name="member_confirm",
    ),
    path("organisations/<int:pk>/grappes/nouvelle/", views.grappe_create, name="grappe_create"),
    path("grappes/<int:pk>/", views.grappe_detail, name="grappe"),
    path(
        "grappes/<int:pk>/etablissements/<int:membership_pk>/retirer/",
        views.membership_remove,
        name="membership_remove",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("grappes/rejoindre/", views.grappe_join, name="grappe_join"),
    path("grappes/<int:pk>/adhesions/<int:join_pk>/", views.join_decide, name="join_decide"),
]
