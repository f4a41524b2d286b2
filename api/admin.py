from django.contrib import admin

from api.models import ApiKey


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
