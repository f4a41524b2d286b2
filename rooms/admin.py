from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from rooms import selectors, services
from rooms.forms import RoomAdminForm
from rooms.models import Room


class HasPasswordFilter(admin.SimpleListFilter):
    title = "password"
    parameter_name = "has_password"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has a password"), ("no", "Open")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Room]) -> QuerySet[Room]:
        if self.value() == "yes":
            return queryset.exclude(password_hash="")
        if self.value() == "no":
            return queryset.filter(password_hash="")
        return queryset


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    """Rooms, their live counts, and a password that is set or cleared but never shown."""

    form = RoomAdminForm
    list_display = (
        "slug",
        "name",
        "owner",
        "max_participants",
        "audio_only",
        "mode",
        "locked",
        "has_password",
        "live_participants",
        "created",
    )
    list_display_links = ("slug", "name")
    list_filter = ("locked", "audio_only", "mode", "public", HasPasswordFilter, "created")
    search_fields = ("slug", "name", "description", "owner__username", "owner__display_name")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner", "moderators")
    date_hierarchy = "created"
    actions = ("lock", "unlock")
    fields = (*RoomAdminForm.Meta.fields, "new_password", "clear_password")

    @admin.display(description="live")
    def live_participants(self, room: Room) -> int:
        return selectors.participant_count(room)

    @admin.display(description="password", boolean=True)
    def has_password(self, room: Room) -> bool:
        return room.has_password

    def save_model(self, request: HttpRequest, obj: Room, form: Any, change: bool) -> None:
        services.update_room(
            obj,
            password=form.cleaned_data.get("new_password") or None,
            clear_password=bool(form.cleaned_data.get("clear_password")),
        )

    def delete_model(self, request: HttpRequest, obj: Room) -> None:
        services.delete_room(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        services.delete_rooms(queryset)

    @admin.action(description="Lock selected rooms (nobody new can join)")
    def lock(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        self._set_locked(request, queryset, locked=True)

    @admin.action(description="Unlock selected rooms")
    def unlock(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        self._set_locked(request, queryset, locked=False)

    def _set_locked(self, request: HttpRequest, queryset: QuerySet[Room], *, locked: bool) -> None:
        rooms = list(queryset)
        for room in rooms:
            services.set_locked(room, locked)
        verb = "Locked" if locked else "Unlocked"
        self.message_user(request, f"{verb} {len(rooms)} room{'s' if len(rooms) != 1 else ''}.", messages.SUCCESS)
