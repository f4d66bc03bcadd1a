from django.urls import path

from . import views

app_name = "grants"

urlpatterns = [
    path("suivi/", views.queue, name="queue"),
    path("suivi/ordres/transmission/", views.batch_create, name="batch_create"),
    path("suivi/bordereaux/", views.batches, name="batches"),
    path("suivi/bordereaux/<int:pk>/", views.batch, name="batch"),
    path(
        "suivi/bordereaux/<int:pk>/<str:fmt>/",
        views.batch_download,
        name="batch_download",
    ),
    path("suivi/mesures/import/", views.measurements_upload, name="measurements_upload"),
    path("suivi/cibles/", views.targets, name="targets"),
    path("suivi/<int:pk>/", views.grant, name="grant"),
    path("suivi/<int:pk>/convention/", views.convention_draft, name="convention_draft"),
    path(
        "suivi/<int:pk>/convention/contresigner/",
        views.convention_countersign,
        name="convention_countersign",
    ),
    path(
        "suivi/<int:pk>/rib/<int:details_pk>/validation/",
        views.bank_validate,
        name="bank_validate",
    ),
    path(
        "suivi/<int:pk>/mesures/<int:measurement_pk>/verification/",
        views.measurement_check,
        name="measurement_check",
    ),
    path("suivi/<int:pk>/ordres/<int:order_pk>/paye/", views.order_paid, name="order_paid"),
    path("suivi/<int:pk>/seconde-tranche/", views.settle, name="settle"),
    path("suivi/<int:pk>/seconde-tranche/confirmer/", views.settle_confirm, name="settle_confirm"),
    path("suivi/<int:pk>/solde/", views.grant_close, name="grant_close"),
    path("suivi/<int:pk>/convention/signee/", views.signed_copy, name="signed_copy"),
    path(
        "suivi/<int:pk>/mesures/<int:measurement_pk>/justificatif/",
        views.measurement_evidence,
        name="measurement_evidence",
    ),
    path("suivi/<int:pk>/convention.pdf", views.convention_pdf, name="convention_pdf"),
    path("suivi/<int:pk>/avenant/", views.amendment_draft, name="amendment_draft"),
    path(
        "suivi/<int:pk>/avenant/<int:amendment_pk>/validation/",
        views.amendment_validation,
        name="amendment_validate",
    ),
    path(
        "suivi/<int:pk>/avenant/<int:amendment_pk>/annulation/",
        views.amendment_cancellation,
        name="amendment_cancel",
    ),
    path(
        "suivi/<int:pk>/avenant/<int:amendment_pk>.pdf",
        views.amendment_pdf,
        name="amendment_pdf",
    ),
    path("espace/dossiers/<int:pk>/suivi/", views.espace_grant, name="espace_grant"),
    path("espace/dossiers/<int:pk>/suivi/convention/", views.espace_sign, name="espace_sign"),
    path("espace/dossiers/<int:pk>/suivi/rib/", views.espace_bank, name="espace_bank"),
    path(
        "espace/dossiers/<int:pk>/suivi/mesures/",
        views.espace_measurements,
        name="espace_measurements",
    ),
]
