from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from mediaworker.models import Recording, RecordingTrack


class RecordingTrackInline(admin.TabularInline):
    model = RecordingTrack
    extra = 0
    can_delete = False
    readonly_fields = ("peer_id", "name", "kind", "file", "start_offset", "end_offset")


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    """Recordings; deleting one here removes its files too."""

    list_display = ("room", "started_by", "started", "duration", "size", "status")
    list_filter = ("status",)
    search_fields = ("room__slug", "room__name", "started_by__username")
    readonly_fields = ("directory", "file", "started", "ended", "duration", "size")
    inlines = [RecordingTrackInline]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
