"""Admin for the referential and the grappes: search and filters everywhere."""

from django.contrib import admin

from . import models
from .finess.admin import finess_import_urls


@admin.register(models.Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "reduced_grappe_minimum")
    list_filter = ("reduced_grappe_minimum",)
    search_fields = ("code", "name")


@admin.register(models.Departement)
class DepartementAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "region")
    list_filter = ("region",)
    search_fields = ("code", "name")


@admin.register(models.CasfCategory)
class CasfCategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "segur_exempt")
    list_filter = ("segur_exempt",)
    search_fields = ("code", "label")


@admin.register(models.FinessCategory)
class FinessCategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "casf_item", "home_care")
    list_filter = ("casf_item", "home_care")
    search_fields = ("code", "label")


class OrganisationMemberInline(admin.TabularInline):
    model = models.OrganisationMember
    extra = 0
    autocomplete_fields = ("user", "confirmed_by")


@admin.register(models.Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("finess", "name", "siren", "departement")
    list_filter = ("departement__region",)
    search_fields = ("finess", "name", "siren")
    autocomplete_fields = ("departement",)
    inlines = (OrganisationMemberInline,)


@admin.register(models.OrganisationMember)
class OrganisationMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "organisation", "status", "confirmed_at")
    list_filter = ("status",)
    search_fields = ("user__email", "organisation__name", "organisation__finess")
    autocomplete_fields = ("user", "organisation", "confirmed_by")


@admin.register(models.Structure)
class StructureAdmin(admin.ModelAdmin):
    list_display = (
        "finess",
        "name",
        "category",
        "departement",
        "organisation",
        "eligible",
        "closed",
        "source",
    )
    list_filter = (
        "eligible",
        "closed",
        "source",
        "category__casf_item",
        "departement__region",
        ("ght", admin.EmptyFieldListFilter),
    )
    search_fields = (
        "finess",
        "name",
        "siret",
        "organisation__finess",
        "organisation__name",
        "ght",
    )
    autocomplete_fields = ("organisation", "category", "departement")
    list_select_related = ("category", "departement", "organisation")


@admin.register(models.DuiSolution)
class DuiSolutionAdmin(admin.ModelAdmin):
    list_display = (
        "editor",
        "product",
        "segur_referenced",
        "segur_hospital_referenced",
        "segur_reference",
        "active",
    )
    list_filter = ("segur_referenced", "segur_hospital_referenced", "active")
    search_fields = ("editor", "product", "segur_reference")


class GrappeOrganisationInline(admin.TabularInline):
    model = models.GrappeOrganisation
    extra = 0
    autocomplete_fields = ("organisation", "confirmed_by")


class GrappeMembershipInline(admin.TabularInline):
    model = models.GrappeMembership
    extra = 0
    autocomplete_fields = ("structure", "solution")


@admin.register(models.Grappe)
class GrappeAdmin(admin.ModelAdmin):
    list_display = ("name", "porteur", "legal_form", "created_at")
    search_fields = ("name", "porteur__name", "porteur__finess")
    list_filter = ("legal_form", "porteur__departement__region")
    autocomplete_fields = ("porteur", "created_by")
    inlines = (GrappeOrganisationInline, GrappeMembershipInline)


@admin.register(models.GrappeMembership)
class GrappeMembershipAdmin(admin.ModelAdmin):
    list_display = ("grappe", "structure", "project_type", "eligible_share", "solution")
    list_filter = ("project_type", "solution__segur_referenced")
    search_fields = ("grappe__name", "structure__finess", "structure__name")
    autocomplete_fields = ("grappe", "structure", "solution")


@admin.register(models.GrappeOrganisation)
class GrappeOrganisationAdmin(admin.ModelAdmin):
    list_display = ("grappe", "organisation", "confirmed_at")
    list_filter = (("confirmed_at", admin.EmptyFieldListFilter),)
    search_fields = ("grappe__name", "organisation__name", "organisation__finess")
    autocomplete_fields = ("grappe", "organisation", "confirmed_by")


@admin.register(models.GrappeInvitation)
class GrappeInvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "grappe", "created_at", "expires_at", "accepted_at")
    list_filter = (("accepted_at", admin.EmptyFieldListFilter),)
    search_fields = ("email", "grappe__name")
    readonly_fields = ("token",)


@admin.register(models.GrappeJoinRequest)
class GrappeJoinRequestAdmin(admin.ModelAdmin):
    list_display = ("organisation", "grappe", "created_at", "accepted")
    list_filter = ("accepted",)
    search_fields = ("organisation__name", "grappe__name")


@admin.register(models.FinessImportJob)
class FinessImportJobAdmin(admin.ModelAdmin):
    """Imports of the FINESS extract: read-only records; new ones go through the upload page."""

    list_display = (
        "created_at",
        "original_name",
        "status",
        "progress",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "created_by",
    )
    list_filter = ("status",)
    search_fields = ("original_name", "created_by__email")
    readonly_fields = [field.name for field in models.FinessImportJob._meta.fields]

    def get_urls(self):
        return finess_import_urls(self) + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        """« Ajouter » leads to the upload page: a job only exists for an uploaded file."""
        from django.shortcuts import redirect

        return redirect("admin:grappes_finessimportjob_upload")

    def has_change_permission(self, request, obj=None):
        return False
