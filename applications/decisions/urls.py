"""Decision URLs: back-office issuing, lists, exports and dashboard; the decision PDF; the public
verification page (``/verifier/<number>/``, no login)."""

from django.urls import path

from . import views

app_name = "decisions"

urlpatterns = [
    path("verifier/", views.verify, name="verify"),
    path("decisions/<str:number>/pdf/", views.decision_pdf, name="pdf"),
    path("instruction/decisions/", views.decision_list, name="list"),
    path("instruction/decisions/a-emettre/", views.pending, name="pending"),
    path("instruction/dossiers/<int:pk>/decision/", views.issue, name="issue"),
    path(
        "instruction/dossiers/<int:pk>/decision/confirmer/",
        views.issue_confirm,
        name="issue_confirm",
    ),
    path("instruction/decisions/emettre/", views.issue_bulk, name="issue_bulk"),
    path("instruction/decisions/exports/", views.export_create, name="export_create"),
    path("instruction/decisions/exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("instruction/decisions/exports/<int:pk>/etat/", views.export_status, name="export_status"),
    path(
        "instruction/decisions/exports/<int:pk>/archive/",
        views.export_download,
        name="export_download",
    ),
    path("instruction/exports/<str:dataset>/<str:fmt>/", views.data_export, name="data_export"),
    path("instruction/tableau-de-bord/", views.dashboard_view, name="dashboard"),
    path("instruction/tableau-de-bord/atlas.csv", views.atlas_csv, name="atlas_csv"),
    path("instruction/tableau-de-bord/atlas.png", views.atlas_png, name="atlas_png"),
]
