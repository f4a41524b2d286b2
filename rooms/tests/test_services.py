"""Room rules that every caller relies on."""

from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from accounts.models import User
from rooms import services
from rooms.models import Room


def test_create_rooms_is_all_or_nothing_even_if_saving_fails_midway(alice: User):
    real_save = Room.save
    saved: list[str] = []

    def save_then_fail_on_the_second(room: Room, *args, **kwargs):
        if saved:
            raise IntegrityError("someone took it")
        saved.append(room.slug)
        real_save(room, *args, **kwargs)

    with mock.patch.object(Room, "save", save_then_fail_on_the_second), pytest.raises(ValidationError):
        services.create_rooms(["one", "two"], owner=alice)

    assert saved == ["one"]
    assert not Room.objects.exists()


def test_a_slug_taken_at_the_last_moment_is_a_validation_error(alice: User):
    room = services.build_room(slug="late", owner=alice)
    services.create_room(slug="late", owner=alice)

    with pytest.raises(ValidationError, match="There is already a room"):
        services._insert(room)


def test_create_rooms_ignores_a_slug_given_twice(db):
    rooms = services.create_rooms(["twice", "twice"])

    assert [room.slug for room in rooms] == ["twice"]


def test_update_room_refuses_an_oversized_room_but_keeps_an_old_one(room: Room, settings):
    settings.ROOM_MAX_PARTICIPANTS_LIMIT = 6

    with pytest.raises(ValidationError, match="between 2 and 6"):
        services.update_room(room, max_participants=7)
    services.update_room(room, name="Renamed", max_participants=room.max_participants)

    room.refresh_from_db()
    assert (room.name, room.max_participants) == ("Renamed", 8)


def test_close_room_locks_it(room: Room):
    services.close_room(room)

    room.refresh_from_db()
    assert room.locked
