"""Guests on the room socket: who they are comes from the session the invite link gave
them, never from a message, and they hold a guest's rights only."""

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from invites.models import Invite
from invites.tests.conftest import ConnectGuest, guest_cookie
from moderation.models import Ban
from moderation.tests.conftest import audit_log, make_room
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_guest_joins_under_the_name_they_typed(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
):
    alice_ws = await enter(connect, alice)

    gus_ws = await connect_guest(await guest_cookie(room, "Gus"))
    welcome = await gus_ws.join()

    assert welcome["peers"] == [{"peer_id": alice_ws.peer_id, "name": "Alice A."}]
    assert await alice_ws.receive() == {
        "type": "peer-joined",
        "peer": {"peer_id": gus_ws.peer_id, "name": "Gus (guest)", "guest": True},
    }
    await gus_ws.send({"type": "chat", "text": "hi"})
    assert (await alice_ws.receive())["name"] == "Gus (guest)"


async def test_a_guest_cannot_moderate(
    connect: Connect, connect_guest: ConnectGuest, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()
    gus_ws = await connect_guest(await guest_cookie(room, "Gus"))
    await gus_ws.join()
    for ws in (alice_ws, bob_ws):
        await ws.receive()

    for action in ("ask_mute", "mute", "remove", "remove_and_bar", "admit", "deny"):
        await gus_ws.send({"type": "moderate", "action": action, "peer_id": bob_ws.peer_id})
        await gus_ws.expect_error("not_moderator")
    for action in ("lock", "end"):
        await gus_ws.send({"type": "moderate", "action": action})
        await gus_ws.expect_error("not_moderator")
    await gus_ws.send({"type": "recording", "action": "start"})
    assert (await gus_ws.receive())["type"] == "error"

    assert await alice_ws.ws.receive_nothing() and await bob_ws.ws.receive_nothing()
    assert await audit_log("standup") == []


async def test_a_guest_knocks_like_any_newcomer(connect: Connect, connect_guest: ConnectGuest, alice: User):
    room = await make_room("standup", alice, knock=True)
    alice_ws = await enter(connect, alice)

    gus_ws = await connect_guest(await guest_cookie(room, "Gus"))
    assert (await gus_ws.receive())["type"] == "waiting"
    knocking = await alice_ws.receive()
    assert knocking["peer"]["name"] == "Gus (guest)"
    await alice_ws.send({"type": "moderate", "action": "admit", "peer_id": knocking["peer"]["peer_id"]})
    await gus_ws.join()


async def test_a_barred_guest_cannot_come_back_with_the_same_session(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
):
    alice_ws = await enter(connect, alice)
    cookie = await guest_cookie(room, "Gus")
    gus_ws = await connect_guest(cookie)
    await gus_ws.join()
    await alice_ws.receive()

    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": gus_ws.peer_id})
    await gus_ws.expect_error("banned")
    await gus_ws.expect_close(CloseCode.FORBIDDEN)

    again = await connect_guest(cookie)
    await again.expect_error("banned")
    await again.expect_close(CloseCode.FORBIDDEN)
    assert await database_sync_to_async(Ban.objects.filter(room=room, name="Gus (guest)").count)() == 1


async def test_a_withdrawn_invite_lets_its_guest_in_no_more(connect_guest: ConnectGuest, alice: User, room: Room):
    cookie = await guest_cookie(room, "Gus")
    await database_sync_to_async(Invite.objects.update)(revoked=True)

    gus_ws = await connect_guest(cookie)
    await gus_ws.expect_error("invite_withdrawn")
    await gus_ws.expect_close(CloseCode.NOT_LOGGED_IN)


async def test_a_guest_of_one_room_is_nobody_in_another(connect_guest: ConnectGuest, alice: User, room: Room):
    await make_room("other", alice)
    cookie = await guest_cookie(room, "Gus")

    gus_ws = await connect_guest(cookie, "other")
    await gus_ws.expect_error("not_logged_in")
