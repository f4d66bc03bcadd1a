from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import LoginEvent, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users by e-mail, with their role and region."""

    ordering = ("email",)
    list_display = ("email", "last_name", "first_name", "role", "region", "is_active", "is_staff")
    list_filter = ("role", "region", "is_active", "is_staff")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Identité", {"fields": ("first_name", "last_name", "title")}),
        ("Rôle", {"fields": ("role", "region")}),
        (
            "Droits",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "role", "region", "password1", "password2")},
        ),
    )


@admin.register(LoginEvent)
class LoginEventAdmin(admin.ModelAdmin):
    """The login audit, read-only: nobody adds, edits or deletes an event (the purge does)."""

    list_display = ("created_at", "kind", "identifier", "user", "ip_address", "user_agent")
    list_filter = ("kind", "created_at")
    search_fields = ("identifier", "user__email", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = ("created_at", "kind", "identifier", "user", "ip_address", "user_agent")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
