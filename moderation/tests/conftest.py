"""Moderation is tested through the real room socket, with the signaling tests' browsers."""

from typing import Any

from channels.db import database_sync_to_async

from accounts.models import User
from moderation.models import ModerationAction
from rooms import services as room_services
from rooms.models import Room
from signaling.tests.conftest import connect, fresh_channel_layer

__all__ = ["audit_log", "connect", "fresh_channel_layer", "make_room"]


@database_sync_to_async
def make_room(slug: str, owner: User, moderators: tuple[User, ...] = (), knock: bool = False, **fields: Any) -> Room:
    room = room_services.create_room(slug=slug, owner=owner, **fields)
    room_services.update_room(room, knock=knock)
    room.moderators.set(moderators)
    return room


@database_sync_to_async
def audit_log(slug: str) -> list[tuple[str, str, str]]:
    """(actor, action, target) for every moderation action in the room, oldest first."""
    rows = ModerationAction.objects.filter(room_slug=slug).order_by("created", "pk")
    return [(row.actor_name, row.action, row.target_name) for row in rows]
