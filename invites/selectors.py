"""Reads about invite links."""

from invites.models import Invite
from rooms.models import Room


def room_invites(room: Room) -> list[Invite]:
    """The room's invites, newest first, for its owner's page."""
    return list(Invite.objects.filter(room=room).order_by("-created"))


def get_invite(room: Room, invite_id: int) -> Invite | None:
    return Invite.objects.filter(room=room, pk=invite_id).first()
