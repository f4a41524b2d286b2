"""Knock to enter: newcomers wait outside, hear nothing of the room, take no place in it,
and come in (or not) when a moderator answers; moderators see the waiting list live."""

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from moderation.tests.conftest import audit_log, make_room
from moderation.tests.test_moderation import people_in
from rooms import selectors as room_selectors
from rooms.models import Room
from signaling.groups import disconnect_room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Browser, Connect

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


async def knock(connect: Connect, user: User, slug: str = "standup") -> Browser:
    ws = await connect(user, slug=slug)
    waiting = await ws.receive()
    assert waiting == {"type": "waiting", "message": "Waiting for a moderator to let you in…"}
    return ws


async def test_a_waiting_person_receives_nothing_of_the_room_until_admitted(
    connect: Connect, alice: User, bob: User, carol: User
):
    await make_room("standup", alice, knock=True, moderators=(bob,))
    alice_ws, bob_ws = await people_in(connect, alice, bob)

    carol_ws = await knock(connect, carol)
    for moderator in (alice_ws, bob_ws):
        knocking = await moderator.receive()
        assert knocking["type"] == "knocking"
        assert knocking["peer"]["name"] == "carol"
    carol_id = knocking["peer"]["peer_id"]

    # The room goes on: offers, candidates, chat, a lock. None of it may reach carol.
    await alice_ws.send({"type": "offer", "to": bob_ws.peer_id, "sdp": SDP})
    assert (await bob_ws.receive())["type"] == "offer"
    await bob_ws.send({"type": "ice", "to": alice_ws.peer_id, "candidate": None})
    assert (await alice_ws.receive())["type"] == "ice"
    await bob_ws.send({"type": "chat", "text": "is carol coming?"})
    for ws in (alice_ws, bob_ws):
        assert (await ws.receive())["type"] == "chat"
    await carol_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})
    await carol_ws.expect_error("not_admitted")
    await carol_ws.send({"type": "chat", "text": "let me in"})
    await carol_ws.expect_error("not_admitted")
    await carol_ws.send({"type": "ping"})
    assert await carol_ws.receive() == {"type": "pong"}, "a waiting socket is kept alive"
    assert await carol_ws.ws.receive_nothing()
    assert await alice_ws.ws.receive_nothing(), "carol's offer and chat reached nobody"

    await bob_ws.send({"type": "moderate", "action": "admit", "peer_id": carol_id})

    welcome = await carol_ws.join()
    assert {peer["name"] for peer in welcome["peers"]} == {"Alice A.", "Bob B."}
    assert [line["text"] for line in welcome["chat"]] == ["is carol coming?"], "history, as any late joiner"
    for ws in (alice_ws, bob_ws):
        news = [await ws.receive(), await ws.receive()]
        assert {"type": "knock-withdrawn", "peer_id": carol_id, "outcome": "admitted"} in news
        assert {"type": "peer-joined", "peer": {"peer_id": carol_ws.peer_id, "name": "carol"}} in news
    await bob_ws.send({"type": "chat", "text": "welcome"})
    assert (await carol_ws.receive())["text"] == "welcome"
    assert await audit_log("standup") == [("Bob B.", "admit", "carol")]


async def test_a_denied_person_is_told_and_disconnected(connect: Connect, alice: User, mallory: User):
    await make_room("standup", alice, knock=True)
    (alice_ws,) = await people_in(connect, alice)
    mallory_ws = await knock(connect, mallory)
    mallory_id = (await alice_ws.receive())["peer"]["peer_id"]

    await alice_ws.send({"type": "moderate", "action": "deny", "peer_id": mallory_id})

    error = await mallory_ws.expect_error("knock_denied")
    assert error["message"] == "Alice A. did not let you in to this meeting."
    await mallory_ws.expect_close(CloseCode.FORBIDDEN)
    assert await alice_ws.receive() == {"type": "knock-withdrawn", "peer_id": mallory_id, "outcome": "denied"}
    await alice_ws.send({"type": "moderate", "action": "admit", "peer_id": mallory_id})
    await alice_ws.expect_error("unknown_peer")
    assert await audit_log("standup") == [("Alice A.", "deny", "Mallory")]


async def test_waiting_takes_no_place_and_is_not_counted(connect: Connect, alice: User, bob: User, carol: User):
    await make_room("duo", alice, knock=True, max_participants=2)
    (alice_ws,) = await people_in(connect, alice, slug="duo")

    bob_ws = await knock(connect, bob, slug="duo")
    carol_ws = await knock(connect, carol, slug="duo")
    bob_id = (await alice_ws.receive())["peer"]["peer_id"]
    carol_id = (await alice_ws.receive())["peer"]["peer_id"]
    room = await _room("duo")
    assert await _count(room) == 1, "the lobby counts only alice"

    await alice_ws.send({"type": "moderate", "action": "admit", "peer_id": bob_id})
    await bob_ws.join()
    await alice_ws.send({"type": "moderate", "action": "admit", "peer_id": carol_id})
    await carol_ws.expect_error("room_full")
    await carol_ws.expect_close(CloseCode.ROOM_FULL)
    assert await _count(room) == 2


async def test_a_moderator_arriving_later_sees_who_waits_and_hears_them_leave(
    connect: Connect, alice: User, bob: User, carol: User
):
    await make_room("standup", alice, knock=True)
    bob_ws = await knock(connect, bob)

    alice_ws = await connect(alice)
    await alice_ws.join()
    knocking = await alice_ws.receive()
    assert knocking["type"] == "knocking" and knocking["peer"]["name"] == "Bob B."

    await bob_ws.ws.disconnect()
    assert await alice_ws.receive() == {
        "type": "knock-withdrawn",
        "peer_id": knocking["peer"]["peer_id"],
        "outcome": "left",
    }


async def test_only_moderators_see_and_answer_a_knock(connect: Connect, alice: User, carol: User, mallory: User):
    await make_room("standup", alice)
    alice_ws, mallory_ws = await people_in(connect, alice, mallory)
    await _ask_to_join("standup")

    carol_ws = await knock(connect, carol)
    carol_id = (await alice_ws.receive())["peer"]["peer_id"]
    assert await mallory_ws.ws.receive_nothing(), "the waiting list is for moderators only"

    await mallory_ws.send({"type": "moderate", "action": "admit", "peer_id": carol_id})
    await mallory_ws.expect_error("not_moderator")
    assert await carol_ws.ws.receive_nothing(), "still waiting"
    assert await alice_ws.ws.receive_nothing()


async def _ask_to_join(slug: str) -> None:
    await database_sync_to_async(Room.objects.filter(slug=slug).update)(knock=True)


async def _room(slug: str) -> Room:
    room = await database_sync_to_async(room_selectors.get_room)(slug)
    assert room is not None
    return room


async def _count(room: Room) -> int:
    count: int = await database_sync_to_async(room_selectors.participant_count)(room)
    return count


async def test_closing_the_room_turns_away_those_waiting_too(connect: Connect, alice: User, bob: User):
    await make_room("standup", alice, knock=True)
    bob_ws = await knock(connect, bob)

    await database_sync_to_async(disconnect_room)("standup", "The room was deleted by its owner.")

    error = await bob_ws.expect_error("room_closed")
    assert error["message"] == "The room was deleted by its owner."
    await bob_ws.expect_close(CloseCode.ROOM_CLOSED)


async def test_ending_the_meeting_turns_away_those_waiting_too(connect: Connect, alice: User, bob: User):
    await make_room("standup", alice, knock=True)
    (alice_ws,) = await people_in(connect, alice)
    bob_ws = await knock(connect, bob)
    await alice_ws.receive()  # knocking

    await alice_ws.send({"type": "moderate", "action": "end"})

    for ws in (alice_ws, bob_ws):
        await ws.expect_error("meeting_ended")
        await ws.expect_close(CloseCode.ROOM_CLOSED)
