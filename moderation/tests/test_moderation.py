"""Moderation over the room socket: only the owner and the moderators they named act,
the owner is untouchable, removals and bars hold across reconnects, and every action
lands in the audit log."""

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from moderation.models import ModerationAction
from moderation.tests.conftest import audit_log, make_room
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


async def people_in(connect: Connect, *users: User, slug: str = "standup") -> list[Browser]:
    """Everyone enters in turn; each one's peer-joined news is read by those already there."""
    sockets: list[Browser] = []
    for user in users:
        ws = await enter(connect, user, slug=slug)
        for earlier in sockets:
            assert (await earlier.receive())["type"] == "peer-joined"
        sockets.append(ws)
    return sockets


async def test_a_participant_cannot_mute_remove_lock_or_end(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room
):
    alice_ws, bob_ws, mallory_ws = await people_in(connect, alice, bob, mallory)

    for action in ("ask_mute", "mute", "remove", "remove_and_bar"):
        await mallory_ws.send({"type": "moderate", "action": action, "peer_id": bob_ws.peer_id})
        await mallory_ws.expect_error("not_moderator")
    for action in ("lock", "unlock", "end"):
        await mallory_ws.send({"type": "moderate", "action": action})
        await mallory_ws.expect_error("not_moderator")

    assert await bob_ws.ws.receive_nothing(), "bob was neither muted nor removed"
    assert await alice_ws.ws.receive_nothing(), "nobody left, the room was not locked nor ended"
    await database_sync_to_async(room.refresh_from_db)()
    assert not room.locked
    assert await audit_log("standup") == []


async def test_the_owner_mutes_someone_and_they_are_told_who_did(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws, bob_ws, carol_ws = await people_in(connect, alice, bob, carol)

    await alice_ws.send({"type": "moderate", "action": "mute", "peer_id": bob_ws.peer_id})
    assert await bob_ws.receive() == {"type": "mute", "forced": True, "by": "Alice A."}
    await alice_ws.send({"type": "moderate", "action": "ask_mute", "peer_id": carol_ws.peer_id})
    assert await carol_ws.receive() == {"type": "mute", "forced": False, "by": "Alice A."}

    assert await alice_ws.ws.receive_nothing()
    assert await audit_log("standup") == [("Alice A.", "mute", "Bob B."), ("Alice A.", "ask_mute", "carol")]


async def test_a_named_moderator_removes_someone_who_may_come_back(
    connect: Connect, alice: User, bob: User, carol: User
):
    await make_room("standup", alice, moderators=(bob,))
    alice_ws, bob_ws, carol_ws = await people_in(connect, alice, bob, carol)

    await bob_ws.send({"type": "moderate", "action": "remove", "peer_id": carol_ws.peer_id})

    error = await carol_ws.expect_error("removed")
    assert error["message"] == "Bob B. removed you from the meeting."
    await carol_ws.expect_close(CloseCode.FORBIDDEN)
    for ws in (alice_ws, bob_ws):
        assert await ws.receive() == {"type": "peer-left", "peer_id": carol_ws.peer_id}

    welcome = await (await connect(carol)).join()
    assert {peer["name"] for peer in welcome["peers"]} == {"Alice A.", "Bob B."}, "not barred: she may return"
    assert await audit_log("standup") == [("Bob B.", "remove", "carol")]


async def test_a_removed_and_barred_person_cannot_rejoin(connect: Connect, alice: User, mallory: User, room: Room):
    alice_ws, mallory_ws = await people_in(connect, alice, mallory)

    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": mallory_ws.peer_id})

    error = await mallory_ws.expect_error("banned")
    assert "may not return" in error["message"]
    await mallory_ws.expect_close(CloseCode.FORBIDDEN)
    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": mallory_ws.peer_id}

    for _ in range(2):
        comeback = await connect(mallory)
        await comeback.expect_error("banned")
        await comeback.expect_close(CloseCode.FORBIDDEN)
    assert await alice_ws.ws.receive_nothing(), "mallory never got back in"
    assert await audit_log("standup") == [("Alice A.", "bar", "Mallory")]
    entry = await database_sync_to_async(ModerationAction.objects.get)()
    assert (entry.actor_id, entry.target_user_id, entry.room_id) == (alice.pk, mallory.pk, room.pk)
    assert entry.details == {"peer_id": mallory_ws.peer_id, "guest": False}


async def test_nobody_but_the_owner_can_remove_or_mute_the_owner(connect: Connect, alice: User, bob: User):
    await make_room("standup", alice, moderators=(bob,))
    alice_ws, bob_ws = await people_in(connect, alice, bob)

    for action in ("mute", "remove", "remove_and_bar"):
        await bob_ws.send({"type": "moderate", "action": action, "peer_id": alice_ws.peer_id})
        error = await bob_ws.expect_error("protected_owner")
        assert "Alice A." in error["message"]

    assert await alice_ws.ws.receive_nothing(), "alice stays, unmuted"
    assert await audit_log("standup") == []


async def test_the_owner_locks_the_room_from_the_call(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws, bob_ws = await people_in(connect, alice, bob)

    await alice_ws.send({"type": "moderate", "action": "lock"})

    for ws in (alice_ws, bob_ws):
        assert await ws.receive() == {"type": "room-locked", "locked": True, "by": "Alice A."}
    carol_ws = await connect(carol)
    await carol_ws.expect_error("room_locked")
    await carol_ws.expect_close(CloseCode.ROOM_LOCKED)

    await alice_ws.send({"type": "moderate", "action": "unlock"})
    assert (await bob_ws.receive())["locked"] is False
    await enter(connect, carol)
    assert await audit_log("standup") == [("Alice A.", "lock", ""), ("Alice A.", "unlock", "")]


async def test_ending_the_meeting_closes_every_socket_with_a_reason(
    connect: Connect, alice: User, bob: User, carol: User
):
    await make_room("standup", alice, moderators=(bob,))
    alice_ws, bob_ws, carol_ws = await people_in(connect, alice, bob, carol)

    await bob_ws.send({"type": "moderate", "action": "end"})

    for ws in (alice_ws, bob_ws, carol_ws):
        error = await ws.expect_error("meeting_ended")
        assert error["message"] == "Bob B. ended the meeting for everyone."
        await ws.expect_close(CloseCode.ROOM_CLOSED)
    assert await audit_log("standup") == [("Bob B.", "end", "")]


async def test_acting_on_someone_not_in_the_room_is_refused(connect: Connect, alice: User, room: Room):
    (alice_ws,) = await people_in(connect, alice)

    await alice_ws.send({"type": "moderate", "action": "remove", "peer_id": "nobody-here"})
    await alice_ws.expect_error("unknown_peer")
    await alice_ws.send({"type": "moderate", "action": "remove", "peer_id": alice_ws.peer_id})
    await alice_ws.expect_error("unknown_peer")
    await alice_ws.send({"type": "moderate", "action": "mute"})
    await alice_ws.expect_error("bad_field")
    await alice_ws.send({"type": "moderate", "action": "explode"})
    await alice_ws.expect_error("bad_field")
    assert await audit_log("standup") == []
