from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from moderation.models import Ban, ModerationAction


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The audit log, read-only: nobody edits or deletes history from here."""

    list_display = ("created", "room_slug", "actor_name", "action", "target_name")
    list_filter = ("action", "room_slug")
    search_fields = ("room_slug", "actor_name", "target_name")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    """People barred from a room; deleting a ban lets them back in."""

    list_display = ("created", "room", "name", "user", "guest_id", "invite", "address", "by")
    list_filter = ("room",)
    search_fields = ("name", "user__username", "room__slug", "address")
    readonly_fields = ("room", "user", "guest_id", "invite", "address", "name", "by", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
