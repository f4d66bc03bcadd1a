"""Admin of the follow-up: campaign parameters, usage indicators (thresholds "à confirmer"
until checked), exemptions and measurements (read-mostly: the ARS checks them in the portal);
conventions, amendments, payment orders, batches and the grant log read only — they change
through the services (numbering, hashes, the log), never by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from applications.admin import CampaignAdmin
from applications.models import Campaign

from .indicators import indicators_ensure_defaults
from .models import (
    Amendment,
    Convention,
    FollowUpParameters,
    GrantLog,
    IndicatorExemption,
    Measurement,
    MeasurementImport,
    PaymentBatch,
    PaymentOrder,
    UsageIndicator,
)


class FollowUpParametersInline(admin.StackedInline):
    model = FollowUpParameters
    can_delete = False
    extra = 0


class UsageIndicatorInline(admin.TabularInline):
    model = UsageIndicator
    fields = ("position", "code", "label", "unit", "threshold", "threshold_confirmed")
    extra = 0
    show_change_link = True


class CampaignWithFollowUpAdmin(CampaignAdmin):
    """The campaign page with its follow-up; a new campaign gets the default indicators."""

    inlines = [*CampaignAdmin.inlines, FollowUpParametersInline, UsageIndicatorInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            indicators_ensure_defaults(campaign=form.instance)


admin.site.unregister(Campaign)
admin.site.register(Campaign, CampaignWithFollowUpAdmin)


class IndicatorExemptionInline(admin.TabularInline):
    model = IndicatorExemption
    extra = 0


@admin.register(UsageIndicator)
class UsageIndicatorAdmin(admin.ModelAdmin):
    list_display = ("label", "code", "campaign", "threshold", "unit", "threshold_confirmed")
    list_filter = ("campaign", "threshold_confirmed")
    filter_horizontal = ("casf_items",)
    inlines = [IndicatorExemptionInline]


@admin.register(Measurement)
class MeasurementAdmin(admin.ModelAdmin):
    list_display = ("structure", "indicator", "value", "measured_on", "source", "status")
    list_filter = ("status", "source", "indicator__campaign")
    search_fields = ("structure__finess", "structure__name")
    raw_id_fields = ("structure", "declared_by", "reviewed_by", "import_batch")
    readonly_fields = ("created_at",)


@admin.register(MeasurementImport)
class MeasurementImportAdmin(admin.ModelAdmin):
    list_display = ("filename", "rows", "created", "updated", "unchanged", "imported_at")
    readonly_fields = [f.name for f in MeasurementImport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Numbered, hashed or logged records: support staff may read them, nobody edits them here
    (an edit would bypass the log and break the hash chain)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Convention)
class ConventionAdmin(ReadOnlyAdmin):
    list_display = ("number", "status", "drafted_at", "signed_at", "countersigned_at")
    list_filter = ("status",)
    search_fields = ("number",)


@admin.register(Amendment)
class AmendmentAdmin(ReadOnlyAdmin):
    list_display = ("number", "convention", "status", "drafted_at", "validated_at")
    list_filter = ("status",)
    search_fields = ("number", "convention__number")


@admin.register(PaymentOrder)
class PaymentOrderAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "amount", "beneficiary", "status", "issued_at", "paid_on")
    list_filter = ("kind", "status")
    search_fields = ("number", "beneficiary", "siret")


@admin.register(PaymentBatch)
class PaymentBatchAdmin(ReadOnlyAdmin):
    list_display = ("number", "campaign", "region_key", "order_count", "total", "created_at")
    search_fields = ("number",)


@admin.register(GrantLog)
class GrantLogAdmin(ReadOnlyAdmin):
    list_display = ("application", "event", "actor_email", "created_at")
    list_filter = ("event",)
    search_fields = ("application__id", "actor_email")
