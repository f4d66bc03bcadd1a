"""Admin for campaigns, calls and dossiers.

A dossier's status is never edited here: it is read-only, and the only way to change it is the
"apply a transition" action, which goes through ``workflow.transition`` like every other page.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from funding.services import quote_for
from grappes.admin import GrappeAdmin
from grappes.models import Grappe

from . import models, workflow
from .campaigns import campaign_create, campaign_segur_exempt_defaults
from .instruction.services import call_default_grid


@admin.register(models.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = (
        "year",
        "name",
        "acquisition_amount",
        "upgrade_amount",
        "segur_required_from_year",
    )
    search_fields = ("name", "year")
    filter_horizontal = ("segur_exempt_items",)
    fieldsets = (
        (None, {"fields": ("year", "name", "instruction_reference")}),
        ("Forfaits par ESSMS", {"fields": ("acquisition_amount", "upgrade_amount")}),
        (
            "Accompagnements",
            {
                "fields": (
                    "hardware_cap",
                    "small_gestionnaire_max_essms",
                    "procurement_cap",
                    "steering_cap",
                )
            },
        ),
        (
            "Taille des grappes",
            {
                "fields": (
                    "regional_min_essms",
                    "regional_max_essms",
                    "reduced_min_essms",
                    "national_min_essms",
                )
            },
        ),
        (
            "Ségur",
            {
                "fields": ("segur_required_from_year", "segur_exempt_items"),
                "description": "Les devis appliquent les items exemptés de la campagne. Une "
                "nouvelle campagne reprend ceux de la campagne précédente (ou, pour la "
                "première, les catégories CASF « exemptées par défaut ») si aucun n'est choisi.",
            },
        ),
        (
            "Versement",
            {"fields": ("first_tranche_percent", "funding_source", "national_funding_source")},
        ),
    )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, str | list[str]]:
        """A new campaign's form shows the exempt items it would get if none were chosen (those
        of the latest campaign, or the default categories)."""
        initial = super().get_changeform_initial_data(request)
        defaults = campaign_segur_exempt_defaults(year=None).values_list("pk", flat=True)
        initial.setdefault("segur_exempt_items", [str(pk) for pk in defaults])
        return initial

    def save_model(
        self, request: HttpRequest, obj: models.Campaign, form: object, change: bool
    ) -> None:
        """A new campaign goes through ``campaign_create`` (its exempt items default to the
        previous campaign's); an edit saves as usual."""
        if change:
            super().save_model(request, obj, form, change)
            return
        chosen = form.cleaned_data.get("segur_exempt_items")  # type: ignore[attr-defined]
        campaign_create(campaign=obj, segur_exempt_items=chosen)

    def save_related(
        self, request: HttpRequest, form: object, formsets: object, change: bool
    ) -> None:
        if not change:
            # ``campaign_create`` (save_model) set the exempt items; the form would set them
            # again from the raw choice, an empty one included.
            form.cleaned_data["segur_exempt_items"] = form.instance.segur_exempt_items.all()  # type: ignore[attr-defined]
        super().save_related(request, form, formsets, change)  # type: ignore[arg-type]


class ScoringCriterionInline(admin.TabularInline):
    model = models.ScoringCriterion
    extra = 0


@admin.register(models.Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("name", "campaign", "scope", "region", "opens_on", "closes_on", "envelope")
    list_filter = ("campaign", "scope", "region")
    search_fields = ("name",)
    inlines = (ScoringCriterionInline,)

    def save_related(
        self, request: HttpRequest, form: object, formsets: object, change: bool
    ) -> None:
        """A new call without criteria gets the default scoring grid."""
        super().save_related(request, form, formsets, change)  # type: ignore[arg-type]
        call_default_grid(call=form.instance)  # type: ignore[attr-defined]


@admin.register(models.ScoringCriterion)
class ScoringCriterionAdmin(admin.ModelAdmin):
    list_display = ("label", "call", "weight", "position")
    list_filter = ("call__campaign", "call__scope")
    search_fields = ("label", "call__name")


class ReviewScoreInline(admin.TabularInline):
    model = models.ReviewScore
    extra = 0


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("application", "reviewer", "score", "created_at")
    search_fields = ("application__grappe__name", "reviewer__email")
    inlines = (ReviewScoreInline,)


@admin.register(models.ReviewScore)
class ReviewScoreAdmin(admin.ModelAdmin):
    list_display = ("review", "criterion", "value")
    search_fields = ("criterion__label", "review__reviewer__email")


@admin.register(models.PrivateNote)
class PrivateNoteAdmin(admin.ModelAdmin):
    list_display = ("application", "author", "created_at")
    search_fields = ("text", "author__email", "application__grappe__name")


@admin.register(models.ComplementRequest)
class ComplementRequestAdmin(admin.ModelAdmin):
    list_display = ("application", "requested_by", "deadline", "answered_at")
    list_filter = ("deadline",)
    search_fields = ("message", "application__grappe__name")


@admin.register(models.ProposedAmount)
class ProposedAmountAdmin(admin.ModelAdmin):
    list_display = ("application", "label", "computed", "proposed")
    search_fields = ("label", "application__grappe__name")


class HardwareRequestInline(admin.TabularInline):
    model = models.HardwareRequest
    extra = 0
    autocomplete_fields = ("organisation",)


class WorkflowLogInline(admin.TabularInline):
    model = models.WorkflowLog
    extra = 0
    can_delete = False
    fields = ("created_at", "action", "from_status", "to_status", "actor_email", "comment")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("id", "grappe", "call", "status", "submitted_at")
    list_filter = ("status", "call__campaign", "call__scope", "call__region")
    search_fields = ("grappe__name", "grappe__porteur__name", "grappe__porteur__finess")
    autocomplete_fields = ("grappe", "call", "created_by")
    readonly_fields = ("status", "version", "submitted_at", "decided_at", "quote")
    inlines = (HardwareRequestInline, WorkflowLogInline)
    # Notifying goes through decision issuing (numbered letter), never a bare transition; the
    # recorded acts (score, proposal edit, assignment) are not transitions.
    actions = [
        f"apply_{a.value}"
        for a in workflow.Action
        if a != workflow.Action.NOTIFY and a not in workflow.RECORDED_ACTIONS
    ]

    @admin.display(description="Chiffrage (lecture seule)")
    def quote(self, obj: models.Application) -> SafeString | str:
        """The funding quote computed by the same service as the portal."""

        if obj.pk is None:
            return "Enregistrez le dossier pour voir son chiffrage."
        return render_to_string(
            "admin/applications/quote.html", {"quote": quote_for(application=obj)}
        )

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[models.Application], action: str
    ) -> None:
        """Run one workflow action on each selected dossier, reporting each refusal."""
        done = 0
        for application in queryset:
            try:
                workflow.transition(
                    application=application,
                    action=action,
                    by=request.user,  # type: ignore[arg-type]
                    comment="Depuis l'administration",
                )
                done += 1
            except workflow.TransitionError as error:
                self.message_user(
                    request, f"Dossier n° {application.pk} : {error.message}", messages.ERROR
                )
        if done:
            self.message_user(request, f"{done} dossier(s) mis à jour.", messages.SUCCESS)


def _make_action(action: workflow.Action):  # type: ignore[no-untyped-def]
    def run(
        modeladmin: ApplicationAdmin, request: HttpRequest, queryset: QuerySet[models.Application]
    ) -> None:
        modeladmin._apply(request, queryset, action.value)

    run.__name__ = f"apply_{action.value}"
    run.short_description = f"Transition : {action.label}"  # type: ignore[attr-defined]
    return run


for _action in workflow.Action:
    if _action == workflow.Action.NOTIFY or _action in workflow.RECORDED_ACTIONS:
        continue
    setattr(ApplicationAdmin, f"apply_{_action.value}", _make_action(_action))


@admin.register(models.HardwareRequest)
class HardwareRequestAdmin(admin.ModelAdmin):
    list_display = ("application", "organisation", "amount")
    list_filter = ("application__call__campaign",)
    search_fields = ("organisation__name", "organisation__finess", "application__grappe__name")
    autocomplete_fields = ("application", "organisation")


@admin.register(models.WorkflowLog)
class WorkflowLogAdmin(admin.ModelAdmin):
    """The log is append-only: visible, never editable, never deletable."""

    list_display = (
        "created_at",
        "application",
        "action",
        "from_status",
        "to_status",
        "actor_email",
    )
    list_filter = ("action", "to_status")
    search_fields = ("actor_email", "application__grappe__name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("application", "kind", "original_name", "size", "uploaded_at")
    list_filter = ("kind",)
    search_fields = ("original_name", "application__grappe__name")
    readonly_fields = ("file", "content_type", "size", "uploaded_by", "uploaded_at")


@admin.register(models.Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("application", "author", "created_at")
    search_fields = ("text", "author__email", "application__grappe__name")


# --------------------------------------------------------------------------------------------
# Decisions: signatories are edited here; decisions and counters are read-only records.
# --------------------------------------------------------------------------------------------


@admin.register(models.Signatory)
class SignatoryAdmin(admin.ModelAdmin):
    """One signatory per ARS region and one for the CNSA (created by migration): only the
    wording is edited; a change applies to decisions issued afterwards, never to issued ones."""

    list_display = ("authority", "name", "title", "city")
    list_filter = ("scope",)
    search_fields = ("authority", "name")
    readonly_fields = ("scope", "region")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Decision)
class DecisionAdmin(admin.ModelAdmin):
    """Issued decisions are immutable: visible, never editable, never deletable."""

    list_display = ("number", "issued_on", "outcome", "beneficiary", "total", "issued_by")
    list_filter = ("outcome", "campaign", "region_key")
    search_fields = ("number", "beneficiary", "application__grappe__name")
    date_hierarchy = "issued_on"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.DecisionCounter)
class DecisionCounterAdmin(admin.ModelAdmin):
    """Numbering state, shown for support; changing it by hand would create gaps or duplicates."""

    list_display = ("campaign", "region_key", "last_sequence")
    search_fields = ("region_key", "campaign__name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.DecisionExport)
class DecisionExportAdmin(admin.ModelAdmin):
    list_display = ("id", "requested_by", "status", "done", "total", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("requested_by__email",)
    readonly_fields = (
        "requested_by",
        "filters",
        "status",
        "total",
        "done",
        "archive",
        "archive_size",
        "error",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )
    exclude = ("decisions",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# The grappe's admin page shows its dossiers' quotes: that needs applications and funding, which
# the referential never imports, so the page is extended from here (registered by grappes.admin,
# imported above, before this module runs).
class GrappeWithQuotesAdmin(GrappeAdmin):
    readonly_fields = (*GrappeAdmin.readonly_fields, "quotes")

    @admin.display(description="Chiffrage des dossiers (lecture seule)")
    def quotes(self, obj: Grappe) -> SafeString | str:
        """The quote of each of the grappe's dossiers, from the same funding service."""
        applications = (
            list(models.Application.objects.filter(grappe=obj).select_related("call__campaign"))
            if obj.pk
            else []
        )
        if not applications:
            return "Aucun dossier pour cette grappe."
        return SafeString(
            "".join(
                render_to_string(
                    "admin/applications/quote.html",
                    {"quote": quote_for(application=application), "heading": str(application.call)},
                )
                for application in applications
            )
        )


admin.site.unregister(Grappe)
admin.site.register(Grappe, GrappeWithQuotesAdmin)
