"""createroom, listrooms and closeroom: what an operator types, and what they are told."""

from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command

from accounts.models import User
from rooms.models import Room
from rooms.tests.conftest import Seat
from signaling.groups import room_group


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createroom_makes_several_rooms_at_once(alice: User):
    output = run("createroom", "demo", "retro", "--name", "Team room", "--owner", "alice", "--max-participants", "4")

    assert output.splitlines() == [
        "Created room 'demo' (Team room): /rooms/demo/",
        "Created room 'retro' (Team room): /rooms/retro/",
    ]
    rooms = Room.objects.order_by("slug")
    assert [(r.slug, r.name, r.owner, r.max_participants) for r in rooms] == [
        ("demo", "Team room", alice, 4),
        ("retro", "Team room", alice, 4),
    ]


def test_createroom_with_password_and_audio_only(db):
    run("createroom", "vault", "--password", "hunter2", "--audio-only")

    room = Room.objects.get(slug="vault")
    assert room.name == "vault" and room.owner is None
    assert room.audio_only and room.check_password("hunter2")
    assert room.mode == "mesh", "a mesh unless asked otherwise"


def test_createroom_refuses_an_unknown_mode(db):
    with pytest.raises(CommandError):
        run("createroom", "odd", "--mode", "p2p")
    assert not Room.objects.filter(slug="odd").exists()


def test_createroom_refuses_an_existing_slug_and_creates_nothing(room: Room):
    with pytest.raises(CommandError) as refused:
        run("createroom", "fresh", "standup")

    assert "standup: There is already a room at /rooms/standup/" in str(refused.value)
    assert "No room was created" in str(refused.value)
    assert not Room.objects.filter(slug="fresh").exists()


def test_createroom_exist_ok_skips_rooms_that_exist(room: Room):
    output = run("createroom", "standup", "demo", "--exist-ok")

    assert "Room 'standup' already exists; left unchanged." in output
    assert "Created room 'demo'" in output
    assert Room.objects.get(slug="standup").name == "Daily standup"


def test_createroom_exist_ok_twice_is_harmless(db):
    run("createroom", "demo", "--name", "Demo room", "--exist-ok")
    output = run("createroom", "demo", "--name", "Demo room", "--exist-ok")

    assert "Created" not in output
    assert Room.objects.count() == 1


def test_createroom_reports_every_bad_slug_before_creating_any(db):
    with pytest.raises(CommandError) as refused:
        run("createroom", "good", "bad slug", "w" * 65)

    message = str(refused.value)
    assert "bad slug: " in message and "letters, numbers" in message
    assert "at most 64 characters" in message
    assert not Room.objects.exists()


def test_createroom_refuses_an_unknown_owner(db):
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        run("createroom", "demo", "--owner", "nobody")
    assert not Room.objects.exists()


@pytest.mark.parametrize("size", ["1", "51"])
def test_createroom_refuses_a_bad_size(db, size: str):
    with pytest.raises(CommandError, match="between 2 and 50 people"):
        run("createroom", "demo", "--max-participants", size)
    assert not Room.objects.exists()


def test_createroom_refuses_a_size_that_is_not_a_number(db):
    with pytest.raises(CommandError, match="invalid int value"):
        run("createroom", "demo", "--max-participants", "many")


def test_createroom_needs_a_slug(db):
    with pytest.raises(CommandError, match="required: SLUG"):
        run("createroom")


def test_listrooms_shows_counts_and_flags(room: Room, alice: User, bob: User, seat: Seat):
    run(
        "createroom",
        "vault",
        "--name",
        "Vault",
        "--password",
        "p",
        "--audio-only",
        "--max-participants",
        "2",
        "--mode",
        "relay",
    )
    Room.objects.filter(slug="vault").update(locked=True)
    seat("standup", alice, bob)

    lines = run("listrooms").splitlines()

    assert lines[0].split() == ["SLUG", "NAME", "OWNER", "PEOPLE", "FLAGS"]
    assert lines[1].split() == ["standup", "Daily", "standup", "alice", "2/8", "-"]
    assert lines[2].split() == ["vault", "Vault", "-", "0/2", "locked,password,audio-only,relay"]


def test_listrooms_with_no_rooms_says_how_to_make_one(db):
    assert "createroom" in run("listrooms")


def test_closeroom_locks_and_disconnects_everyone(room: Room):
    layer = get_channel_layer()
    assert layer is not None
    bobs_socket = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(room_group("standup"), bobs_socket)

    output = run("closeroom", "standup")

    assert "Closed room 'standup'" in output
    room.refresh_from_db()
    assert room.locked
    event = async_to_sync(layer.receive)(bobs_socket)
    assert event["type"] == "room.closed"
    # English, translated by each socket into its person's language (signaling/language.py).
    assert (event["code"], event["sentence"]) == ("room_closed", "The room was closed by an administrator.")


def test_closeroom_of_an_unknown_room_changes_nothing(room: Room):
    with pytest.raises(CommandError, match="there is no room 'nowhere'"):
        run("closeroom", "standup", "nowhere")

    room.refresh_from_db()
    assert not room.locked
