from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from invites import services
from invites.models import Invite


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    """Invite links: who made them, how often they were used; the token itself is never stored."""

    list_display = ("created", "room", "label", "created_by", "expires_at", "uses", "max_uses", "revoked")
    list_filter = ("revoked", "room")
    search_fields = ("room__slug", "label", "created_by__username")
    readonly_fields = ("room", "token_hash", "created_by", "created", "uses")
    fields = ("room", "label", "created_by", "created", "expires_at", "max_uses", "uses", "revoked", "token_hash")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made from the room's invites page, which shows the link once

    @admin.action(description="Withdraw selected invites")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            services.revoke(invite)
        self.message_user(request, f"Withdrew {queryset.count()} invite(s).", messages.SUCCESS)
