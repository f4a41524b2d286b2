"""`manage.py listrooms`: every room with its live count and flags."""

from typing import Any

from django.core.management.base import BaseCommand

from rooms import selectors
from rooms.models import RoomMode
from rooms.selectors import RoomListing

_HEADERS = ("SLUG", "NAME", "OWNER", "PEOPLE", "FLAGS")


def _flags(listing: RoomListing) -> str:
    room = listing.room
    flags = [
        label
        for label, on in (
            ("full", listing.is_full),
            ("locked", room.locked),
            ("password", room.has_password),
            ("audio-only", room.audio_only),
            (room.mode, room.mode != RoomMode.MESH),
        )
        if on
    ]
    return ",".join(flags) or "-"


def _row(listing: RoomListing) -> tuple[str, ...]:
    room = listing.room
    owner = room.owner.username if room.owner else "-"
    return (room.slug, room.name, owner, f"{listing.participants}/{room.max_participants}", _flags(listing))


class Command(BaseCommand):
    help = "List every room: slug, name, owner, live participants/places, flags."

    def handle(self, *args: Any, **options: Any) -> None:
        rows = [_row(listing) for listing in selectors.room_listings()]
        if not rows:
            self.stdout.write("No rooms yet. Create one with: manage.py createroom SLUG")
            return
        widths = [max(len(row[column]) for row in [_HEADERS, *rows]) for column in range(len(_HEADERS))]
        for row in [_HEADERS, *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
