"""Applicant URLs for dossiers."""

from django.urls import path

from . import views

app_name = "dossiers"

urlpatterns = [
    path("grappes/<int:grappe_pk>/dossiers/nouveau/", views.application_create, name="create"),
    path("dossiers/<int:pk>/", views.application_detail, name="detail"),
    path("dossiers/<int:pk>/chiffrage/", views.live_quote, name="quote"),
    path("dossiers/<int:pk>/pieces/", views.attachment_upload, name="upload"),
    path(
        "dossiers/<int:pk>/pieces/<int:attachment_pk>/", views.attachment_download, name="download"
    ),
    path(
        "dossiers/<int:pk>/pieces/<int:attachment_pk>/supprimer/",
        views.attachment_delete,
        name="attachment_delete",
    ),
    path("dossiers/<int:pk>/deposer/", views.submit, name="submit"),
    path("dossiers/<int:pk>/recepisse/", views.receipt, name="receipt"),
    path("dossiers/<int:pk>/messages/", views.post_message, name="message"),
    path("dossiers/<int:pk>/complements/", views.answer_complement, name="answer"),
    path("dossiers/<int:pk>/retirer/", views.withdraw, name="withdraw"),
]
