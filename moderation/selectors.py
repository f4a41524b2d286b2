"""Reads about who moderates a room and who may not return to it."""

from typing import Any

from invites.services import Guest
from moderation.models import Ban
from rooms import services as room_services
from rooms.models import Room


def is_moderator(user: Any, room: Room) -> bool:
    """The owner, staff and the moderators the owner named; a guest only by a join token's
    `moderator` claim (a `Guest` exists for the one room of its grant)."""
    if isinstance(user, Guest):
        return user.moderator
    if user is None or not user.is_authenticated:
        return False
    return room_services.can_manage(user, room) or room.moderators.filter(pk=user.pk).exists()


def is_barred(room: Room, user_id: int | None, guest_id: str = "") -> bool:
    """True when this user (or guest) was removed from `room` and barred from returning."""
    if user_id is not None:
        return Ban.objects.filter(room=room, user_id=user_id).exists()
    return bool(guest_id) and Ban.objects.filter(room=room, guest_id=guest_id).exists()


def is_invite_barred(room: Room, invite_id: int | None, address: str) -> bool:
    """True when a guest who came in through this invite from this address was barred from `room`:
    a new guest session (a fresh browser, a cleared cookie) that way is refused too."""
    if invite_id is None or not address:
        return False
    return Ban.objects.filter(room=room, invite_id=invite_id, address=address).exists()
