"""Back-office URLs (instruction and validation)."""

from django.urls import path

from . import views

app_name = "applications"

urlpatterns = [
    path("instruction/", views.queue, name="queue"),
    path("instruction/dossiers/<int:pk>/", views.review, name="review"),
    path("instruction/dossiers/<int:pk>/affectation/", views.assign, name="assign"),
    path("instruction/dossiers/<int:pk>/note/", views.add_note, name="add_note"),
    path("instruction/dossiers/<int:pk>/evaluation/", views.save_review, name="save_review"),
    path("instruction/dossiers/<int:pk>/complements/", views.ask_complement, name="ask_complement"),
    path("instruction/dossiers/<int:pk>/proposition/", views.save_proposal, name="save_proposal"),
    path("instruction/dossiers/<int:pk>/action/<str:action>/", views.act, name="act"),
    path("instruction/dossiers/<int:pk>/messages/", views.post_message, name="post_message"),
    path("instruction/appels/<int:pk>/classement/", views.ranking, name="ranking"),
]
