"""Reads about rooms, combining the database with live presence."""

from dataclasses import dataclass

from django.db.models import QuerySet

from rooms.models import Room
from signaling.presence import get_presence


@dataclass(frozen=True)
class RoomListing:
    room: Room
    participants: int

    @property
    def is_full(self) -> bool:
        return self.participants >= self.room.max_participants


def room_listings(rooms: "QuerySet[Room] | None" = None) -> list[RoomListing]:
    """Rooms with their live participant counts, busiest first, then by name."""
    rooms = list(rooms if rooms is not None else Room.objects.select_related("owner"))
    counts = get_presence().counts(room.slug for room in rooms)
    listings = [RoomListing(room, counts.get(room.slug, 0)) for room in rooms]
    return sorted(listings, key=lambda item: (-item.participants, item.room.name.lower()))


def get_room(slug: str) -> Room | None:
    return Room.objects.select_related("owner").filter(slug=slug).first()
