"""Who gets into a room, and what they are told when they don't."""

import asyncio

import pytest

from accounts.models import User
from rooms import services as room_services
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Connect, anonymous_session, enter

pytestmark = pytest.mark.django_db(transaction=True)


async def test_bob_is_welcomed_with_the_people_already_there(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws = await connect(alice)
    welcome = await alice_ws.join()
    assert welcome["peers"] == []
    assert welcome["room"] == {
        "slug": "standup",
        "name": "Daily standup",
        "audio_only": False,
        "max_participants": 8,
        "recording": False,
        "mode": "mesh",
        "active_mode": "mesh",
    }
    assert isinstance(welcome["ice_servers"], list)

    bob_ws = await connect(bob)
    bob_welcome = await bob_ws.join()
    assert bob_welcome["peers"] == [{"peer_id": alice_ws.peer_id, "name": "Alice A."}]
    assert bob_welcome["peer_id"] != alice_ws.peer_id

    joined = await alice_ws.receive()
    assert joined == {"type": "peer-joined", "peer": {"peer_id": bob_ws.peer_id, "name": "Bob B."}}
    assert await bob_ws.ws.receive_nothing(), "bob is not told about his own arrival"


async def test_the_others_hear_when_someone_leaves(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined

    await bob_ws.ws.disconnect()

    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": bob_ws.peer_id}


async def test_anonymous_visitor_is_asked_to_log_in(connect: Connect, room: Room):
    visitor = await connect(None, cookie=await anonymous_session())
    await visitor.expect_error("not_logged_in")
    await visitor.expect_close(CloseCode.NOT_LOGGED_IN)


async def test_unknown_room_is_refused(connect: Connect, bob: User):
    bob_ws = await connect(bob, slug="no-such-room")
    error = await bob_ws.expect_error("room_not_found")
    assert "no-such-room" in error["message"]
    await bob_ws.expect_close(CloseCode.ROOM_NOT_FOUND)


async def test_foreign_origin_is_rejected_before_anything_happens(connect: Connect, mallory: User, room: Room):
    mallory_ws = await connect(mallory, origin="https://evil.example")
    assert not mallory_ws.connected


async def test_locked_room_turns_newcomers_away_but_not_its_owner(connect: Connect, alice: User, bob: User, room: Room):
    await room_services_set_locked(room)
    bob_ws = await connect(bob)
    await bob_ws.expect_error("room_locked")
    await bob_ws.expect_close(CloseCode.ROOM_LOCKED)

    alice_ws = await connect(alice)
    await alice_ws.join()


async def test_password_room_needs_the_password_given_on_the_page(connect: Connect, alice: User, bob: User):
    secret = await make_room(slug="secret", owner=alice, password="open sesame")

    bob_ws = await connect(bob, slug="secret")
    await bob_ws.expect_error("password_required")
    await bob_ws.expect_close(CloseCode.FORBIDDEN)

    bob_again = await connect(bob, slug="secret", room_password=(secret, "open sesame"))
    await bob_again.join()


async def test_full_room_refuses_the_next_person(connect: Connect, alice: User, bob: User, carol: User):
    await make_room(slug="duo", owner=alice, max_participants=2)
    await (await connect(alice, slug="duo")).join()
    await (await connect(bob, slug="duo")).join()

    carol_ws = await connect(carol, slug="duo")
    error = await carol_ws.expect_error("room_full")
    assert "2 people" in error["message"]
    await carol_ws.expect_close(CloseCode.ROOM_FULL)


async def test_racing_into_a_nearly_full_room_never_overfills_it(connect: Connect, alice: User, bob: User):
    await make_room(slug="tight", owner=alice, max_participants=3)
    sockets = await asyncio.gather(*(connect(bob, slug="tight") for _ in range(12)))

    outcomes = [(await ws.receive())["type"] for ws in sockets]

    assert outcomes.count("welcome") == 3
    assert outcomes.count("error") == 9


async def test_closing_a_room_disconnects_everyone_in_it(connect: Connect, alice: User, bob: User, room: Room):
    from asgiref.sync import sync_to_async

    from signaling.groups import disconnect_room

    bob_ws = await connect(bob)
    await bob_ws.join()

    await sync_to_async(disconnect_room)("standup", "The meeting has ended.")

    error = await bob_ws.expect_error("room_closed")
    assert error["message"] == "The meeting has ended."
    await bob_ws.expect_close(CloseCode.ROOM_CLOSED)


async def make_room(**fields: object) -> Room:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(room_services.create_room)(**fields)


async def room_services_set_locked(room: Room) -> None:
    from channels.db import database_sync_to_async

    await database_sync_to_async(room_services.set_locked)(room, True)
