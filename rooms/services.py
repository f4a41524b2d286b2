"""Writes and business rules for rooms. Views, commands, the admin and consumers call these."""

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from rooms.models import Room, RoomMode
from signaling.groups import disconnect_room

_ACCESS_KEY = "room_access"
_MIN_PARTICIPANTS = 2


def check_capacity(max_participants: int) -> None:
    """Refuse a room size outside 2..ROOM_MAX_PARTICIPANTS_LIMIT (raises ValidationError)."""
    limit = int(settings.ROOM_MAX_PARTICIPANTS_LIMIT)
    if not _MIN_PARTICIPANTS <= max_participants <= limit:
        message = _("A room holds between %(least)d and %(most)d people; pick a number in that range.") % {
            "least": _MIN_PARTICIPANTS,
            "most": limit,
        }
        raise ValidationError({"max_participants": message})


def _slug_taken_error(slug: str) -> ValidationError:
    message = _("There is already a room at /rooms/%(slug)s/; choose another address.") % {"slug": slug}
    return ValidationError({"slug": message})


def check_slug_free(slug: str) -> None:
    """Refuse a slug that another room already uses (raises ValidationError on `slug`)."""
    if Room.objects.filter(slug=slug).exists():
        raise _slug_taken_error(slug)


class RoomFields(TypedDict, total=False):
    """The optional fields of a new room, as `build_room` takes them."""

    name: str
    owner: User | None
    description: str
    password: str | None
    max_participants: int | None
    audio_only: bool
    mode: str


def build_room(
    *,
    slug: str,
    name: str = "",
    owner: User | None = None,
    description: str = "",
    password: str | None = None,
    max_participants: int | None = None,
    audio_only: bool = False,
    mode: str = RoomMode.MESH,
) -> Room:
    """A new, validated but unsaved room; `name` defaults to the slug, the password is hashed.

    Raises ValidationError (keyed by field) for a bad value or a slug already in use.
    """
    room = Room(slug=slug, name=name or slug, owner=owner, description=description, audio_only=audio_only, mode=mode)
    if max_participants is not None:
        check_capacity(max_participants)
        room.max_participants = max_participants
    room.set_password(password)
    check_slug_free(slug)
    room.full_clean()
    return room


def _insert(room: Room) -> None:
    # Two people can pass the uniqueness check at once; the database decides, and the
    # savepoint keeps a caller's surrounding transaction usable after the refusal.
    try:
        with transaction.atomic():
            room.save(force_insert=True)
    except IntegrityError as exc:
        raise _slug_taken_error(room.slug) from exc


def create_room(*, slug: str, **fields: Unpack[RoomFields]) -> Room:
    """Create a room (the fields of `build_room`); the database settles slug races.

    Raises ValidationError (keyed by field) for a bad value or a slug already in use.
    """
    room = build_room(slug=slug, **fields)
    _insert(room)
    return room


def create_own_room(creator: User, *, slug: str, **fields: Any) -> Room:
    """Create a room that `creator` asked for in the lobby, owned by them (the fields of
    `build_room`): people who are not staff own at most ROOMS_PER_USER rooms. Raises
    ValidationError (code `too_many_rooms`, or keyed by field)."""
    with transaction.atomic():
        # One creation at a time per person, so two tabs cannot both take the last place.
        User.objects.select_for_update().filter(pk=creator.pk).first()
        check_room_quota(creator)
        return create_room(slug=slug, owner=creator, **fields)


def check_room_quota(owner: User) -> None:
    """Refuse a new room for someone who is not staff and already owns ROOMS_PER_USER rooms."""
    limit = int(settings.ROOMS_PER_USER)
    if owner.is_staff or Room.objects.filter(owner=owner).count() < limit:
        return
    raise ValidationError(
        _(
            "You already own %(limit)d rooms, the most one person may have. Delete one you no longer use "
            "(from its Settings page), then create this one."
        )
        % {"limit": limit},
        code="too_many_rooms",
    )


def remember_member(user: Any, room: Room) -> None:
    """`user` got into `room`'s call page: the lobby lists the room for them from now on."""
    if user.is_authenticated and room.owner_id != user.pk:
        room.members.add(user)


def _slugs_to_create(slugs: Sequence[str], exist_ok: bool) -> list[str]:
    unique = list(dict.fromkeys(slugs))
    if not exist_ok:
        return unique
    existing = set(Room.objects.filter(slug__in=unique).values_list("slug", flat=True))
    return [slug for slug in unique if slug not in existing]


def create_rooms(slugs: Sequence[str], *, exist_ok: bool = False, **options: Any) -> list[Room]:
    """Create one room per slug, all or none; `options` are those of `create_room`.

    Every slug is checked before anything is saved, and the rooms are saved in one
    transaction. With `exist_ok`, slugs that already have a room are skipped. Raises
    ValidationError listing every problem, each message starting with its slug.
    """
    rooms: list[Room] = []
    problems: list[str] = []
    for slug in _slugs_to_create(slugs, exist_ok):
        try:
            rooms.append(build_room(slug=slug, **options))
        except ValidationError as error:
            problems.extend(f"{slug}: {message}" for message in _messages(error))
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        for room in rooms:
            _insert(room)
    return rooms


def _messages(error: ValidationError) -> list[str]:
    """Flat messages, naming the field unless the message is about the slug or the whole room."""
    if not hasattr(error, "error_dict"):
        return list(error.messages)
    return [
        message if field in ("slug", "__all__") else f"{field}: {message}"
        for field, messages in error.message_dict.items()
        for message in messages
    ]


def update_room(room: Room, *, password: str | None = None, clear_password: bool = False, **fields: Any) -> Room:
    """Change a room's fields; a new password replaces the old, `clear_password` removes it.

    Changing the password revokes every access granted with the old one. Raises
    ValidationError (keyed by field) for a bad value.
    """
    if "max_participants" in fields and fields["max_participants"] != room.max_participants:
        check_capacity(fields["max_participants"])
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
    """Lock (nobody new may join, except its managers) or unlock a room."""
    room.locked = locked
    room.save(update_fields=["locked"])
    return room


def close_room(room: Room, reason: str = gettext_noop("The room was closed by an administrator.")) -> Room:
    """Lock a room and disconnect everyone in it, telling them `reason`."""
    set_locked(room, True)
    disconnect_room(room.slug, reason=reason)
    return room


def delete_room(room: Room) -> None:
    """Delete a room and disconnect whoever is still in it."""
    slug = room.slug
    with transaction.atomic():
        room.delete()
    disconnect_room(slug, reason=gettext_noop("The room was deleted by its owner."))


def delete_rooms(rooms: Iterable[Room]) -> int:
    """Delete several rooms (see `delete_room`); returns how many."""
    count = 0
    for room in rooms:
        delete_room(room)
        count += 1
    return count


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
