"""Writes and business rules for rooms. Views, commands and consumers call these."""

from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils.crypto import salted_hmac

from accounts.models import User
from rooms.models import Room

_ACCESS_KEY = "room_access"


def create_room(
    *,
    slug: str,
    name: str = "",
    owner: User | None = None,
    description: str = "",
    password: str | None = None,
    max_participants: int | None = None,
    audio_only: bool = False,
) -> Room:
    """Create a room; `name` defaults to the slug, the password is stored hashed."""
    room = Room(slug=slug, name=name or slug, owner=owner, description=description, audio_only=audio_only)
    if max_participants is not None:
        room.max_participants = max_participants
    room.set_password(password)
    room.full_clean()
    room.save()
    return room


def update_room(room: Room, *, password: str | None = None, clear_password: bool = False, **fields: Any) -> Room:
    """Change a room's fields; a new password replaces the old, `clear_password` removes it."""
    for name, value in fields.items():
        setattr(room, name, value)
    if clear_password:
        room.set_password(None)
    elif password:
        room.set_password(password)
    room.full_clean()
    room.save()
    return room


def set_locked(room: Room, locked: bool) -> Room:
    room.locked = locked
    room.save(update_fields=["locked"])
    return room


def delete_room(room: Room) -> None:
    """Delete a room and disconnect whoever is still in it."""
    from signaling.services import disconnect_room

    slug = room.slug
    with transaction.atomic():
        room.delete()
    disconnect_room(slug, reason="The room was deleted by its owner.")


def can_manage(user: Any, room: Room) -> bool:
    """Owners (and staff) edit, lock and delete a room."""
    return bool(user.is_authenticated and (room.owner_id == user.pk or user.is_staff))


def _access_token(room: Room) -> str:
    # Bound to the current password hash: changing the password revokes earlier grants.
    return salted_hmac("rooms.access", f"{room.pk}:{room.password_hash}").hexdigest()[:32]


def grant_access(session: SessionBase, room: Room, password: str) -> bool:
    """Check `password` and remember success in the session."""
    if not room.check_password(password):
        return False
    grants = dict(session.get(_ACCESS_KEY, {}))
    grants[room.slug] = _access_token(room)
    session[_ACCESS_KEY] = grants
    return True


def has_access(session: SessionBase, user: Any, room: Room) -> bool:
    """True when no password is needed or the session already gave the right one."""
    if not room.has_password or can_manage(user, room):
        return True
    grants = session.get(_ACCESS_KEY, {})
    return isinstance(grants, dict) and grants.get(room.slug) == _access_token(room)


def may_enter(user: Any, room: Room) -> bool:
    """A locked room admits only the people who manage it."""
    return not room.locked or can_manage(user, room)
