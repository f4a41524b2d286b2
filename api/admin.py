from typing import Any

from django.contrib import admin

from api import webhooks
from api.models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Keys are made by `manage.py createapikey` (the value is shown once there); here they are
    listed and revoked. Only the hash is stored, so no key can be read back."""

    list_display = ["name", "prefix", "owner", "created", "last_used", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix", "owner__username"]
    readonly_fields = ["name", "owner", "prefix", "created", "last_used"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["url", "active", "events", "created"]
    list_filter = ["active"]

    def save_model(self, request: Any, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        webhooks.forget_wanted()


class WebhookAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status", "error", "seconds"]

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The delivery log: every event, each attempt inline; "send again" queues it once more."""

    list_display = ["event", "message_id", "endpoint", "created", "attempts", "delivered", "failed", "next_attempt"]
    list_filter = ["event", "failed", "endpoint"]
    search_fields = ["message_id", "event"]
    readonly_fields = [
        "endpoint",
        "message_id",
        "event",
        "payload",
        "created",
        "attempts",
        "delivered",
        "failed",
        "next_attempt",
    ]
    inlines = [WebhookAttemptInline]
    actions = ["send_again"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Send again")
    def send_again(self, request: Any, queryset: Any) -> None:
        for delivery in queryset:
            webhooks.send_again(delivery)
        self.message_user(request, f"{queryset.count()} event(s) queued to be sent again.")
