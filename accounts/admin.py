from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, plus the display name others see in calls."""

    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Audio Exchange", {"fields": ("display_name",)}),
    )
    add_fieldsets = (
        *(DjangoUserAdmin.add_fieldsets or ()),
        ("Audio Exchange", {"classes": ("wide",), "fields": ("display_name",)}),
    )
    list_display = ("username", "display_name", "email", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
