"""Reads about rooms, combining the database with live presence."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse

from mediaworker import selectors as recording_selectors
from moderation import selectors as moderation_selectors
from rooms import services
from rooms.models import Room, RoomMode
from signaling.presence import get_presence


@dataclass(frozen=True)
class RoomListing:
    room: Room
    participants: int

    @property
    def is_full(self) -> bool:
        return self.participants >= self.room.max_participants


def room_listings(rooms: Iterable[Room] | None = None) -> list[RoomListing]:
    """Rooms with their live participant counts, busiest first, then by name."""
    found = list(rooms if rooms is not None else Room.objects.select_related("owner"))
    counts = get_presence().counts(room.slug for room in found)
    listings = [RoomListing(room, counts.get(room.slug, 0)) for room in found]
    return sorted(listings, key=lambda item: (-item.participants, item.room.name.lower()))


def rooms_for(viewer: Any) -> QuerySet[Room]:
    """The rooms `viewer` sees in the lobby: their own, those they moderate or have been in, and
    those listed (`public`) by their owner; every room for staff; none for anonymous visitors."""
    rooms = Room.objects.select_related("owner")
    if not viewer.is_authenticated:
        return rooms.none()
    if viewer.is_staff:
        return rooms.all()
    mine = Q(owner=viewer) | Q(moderators=viewer) | Q(members=viewer) | Q(public=True)
    return rooms.filter(pk__in=Room.objects.filter(mine).values("pk"))


def participant_count(room: Room) -> int:
    """How many people are in `room` right now."""
    return get_presence().counts([room.slug]).get(room.slug, 0)


def get_room(slug: str) -> Room | None:
    return Room.objects.select_related("owner").filter(slug=slug).first()


def get_rooms(slugs: Iterable[str]) -> tuple[list[Room], list[str]]:
    """The rooms with these slugs, in the order given, and the slugs that have no room."""
    wanted = list(dict.fromkeys(slugs))
    by_slug = {room.slug: room for room in Room.objects.select_related("owner").filter(slug__in=wanted)}
    return [by_slug[slug] for slug in wanted if slug in by_slug], [slug for slug in wanted if slug not in by_slug]


def call_config(room: Room, user: Any) -> dict[str, Any]:
    """What the call page's script needs to join `room` as `user` (emitted with json_script)."""
    return {
        "ws_path": f"/ws/rooms/{room.slug}/",
        "room": {
            "slug": room.slug,
            "name": room.name,
            "audio_only": room.audio_only,
            "max_participants": room.max_participants,
            "mode": room.mode,
        },
        "display_name": user.public_name,
        "lobby_url": reverse("lobby"),
        # ?room= lets a guest of this room (invite or join token) have TURN credentials too.
        "ice_servers_url": f"{reverse('ice-servers')}?room={room.slug}",
        # Recording (mediaworker): who sees the buttons, and what the pre-join screen says.
        "can_record": services.can_manage(user, room),
        "recording_active": recording_selectors.is_recording(room),
        # Moderation (issue 6): who sees the moderator controls; the server checks every action.
        "can_moderate": moderation_selectors.is_moderator(user, room),
        "locked": room.locked,
        # Mesh: how long a direct connection may stay down, before and after an ICE restart, before
        # the page asks the relay to carry it (docs/protocol.md, "Relay fallback").
        "fallback_after_ms": round(settings.RELAY_FALLBACK_AFTER_SECONDS * 1000),
        # Inside an <iframe>: the pages allowed to send commands and receive events (static/js/embed.js).
        "embed_origins": list(settings.EMBED_ALLOWED_ORIGINS),
    }


def active_mode(mode: str, audio_only: bool, people: int) -> str:
    """How media travels in a room of `mode` with `people` in it now: "mesh" or "relay".

    An `auto` room relays above RELAY_AUTO_ABOVE_VIDEO people (RELAY_AUTO_ABOVE_AUDIO when
    audio-only) and is a mesh at or below it.
    """
    if mode != RoomMode.AUTO:
        return mode
    limit = settings.RELAY_AUTO_ABOVE_AUDIO if audio_only else settings.RELAY_AUTO_ABOVE_VIDEO
    return RoomMode.RELAY if people > limit else RoomMode.MESH
