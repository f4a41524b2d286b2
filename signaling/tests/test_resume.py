"""Coming back after a dropped socket: the same peer id, and the others keep their connection.

bob's socket drops (or the server closes it to restart); he reconnects with the resume token
from his `welcome` and is the same peer again. mallory tries to use tokens that are not hers.
"""

import asyncio
import time
from urllib.parse import urlencode

import pytest
from django.core import signing

from accounts.models import User
from rooms.models import Room
from signaling import resume
from signaling.hub import hub
from signaling.presence import get_presence
from signaling.protocol import CloseCode
from signaling.shutdown import GOING_AWAY
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)

ABNORMAL = 1006  # the socket went away without a close frame


def resuming(token: str) -> str:
    return urlencode({"resume": token})


async def alice_and_bob(connect: Connect, alice: User, bob: User) -> tuple[Browser, Browser, dict]:
    alice_ws = await enter(connect, alice)
    bob_ws = await connect(bob)
    bob_welcome = await bob_ws.join()
    assert (await alice_ws.receive())["type"] == "peer-joined"
    return alice_ws, bob_ws, bob_welcome


async def test_a_dropped_peer_comes_back_under_the_same_id(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws, bob_ws, welcome = await alice_and_bob(connect, alice, bob)
    assert welcome["resume"] and welcome["resume_seconds"] == 60 and welcome["resumed"] is False

    await bob_ws.ws.disconnect(code=ABNORMAL)
    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": bob_ws.peer_id, "resumable": True}

    bob_again = await connect(bob, query=resuming(welcome["resume"]))
    again = await bob_again.join()
    assert again["peer_id"] == bob_ws.peer_id
    assert again["resumed"] is True
    assert again["peers"] == [{"peer_id": alice_ws.peer_id, "name": "Alice A."}]
    assert await alice_ws.receive() == {"type": "peer-joined", "peer": {"peer_id": bob_ws.peer_id, "name": "Bob B."}}

    await alice_ws.send({"type": "offer", "to": bob_ws.peer_id, "sdp": "v=0"})
    assert (await bob_again.receive())["from"] == alice_ws.peer_id


async def test_hanging_up_is_final(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws, bob_ws, _ = await alice_and_bob(connect, alice, bob)

    await bob_ws.ws.disconnect(code=1000)

    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": bob_ws.peer_id}


async def test_a_server_restart_is_a_resumable_departure(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws, bob_ws, _ = await alice_and_bob(connect, alice, bob)
    bob_entry = await get_presence().find("standup", bob_ws.peer_id)
    assert bob_entry is not None

    await hub.connections[bob_entry.channel_name].refuse(CloseCode.GOING_AWAY, *GOING_AWAY)
    await bob_ws.expect_error("going_away")
    await bob_ws.expect_close(CloseCode.GOING_AWAY)
    await bob_ws.ws.disconnect()  # the browser answers the close frame

    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": bob_ws.peer_id, "resumable": True}


async def test_a_stale_entry_is_replaced_and_its_socket_retired(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws, bob_ws, welcome = await alice_and_bob(connect, alice, bob)

    # bob's old socket is still open (the server has not noticed it died) when he comes back.
    bob_again = await connect(bob, query=resuming(welcome["resume"]))
    assert (await bob_again.join())["peer_id"] == bob_ws.peer_id

    await bob_ws.expect_error("resumed_elsewhere")
    await bob_ws.expect_close(CloseCode.REPLACED)
    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": bob_ws.peer_id, "resumable": True}
    assert (await alice_ws.receive())["type"] == "peer-joined"
    assert [peer.peer_id for peer in await get_presence().members("standup")].count(bob_ws.peer_id) == 1

    await bob_ws.ws.disconnect(code=ABNORMAL)  # the old socket finally goes
    assert await alice_ws.ws.receive_nothing(), "no departure for a peer that is back"
    await alice_ws.send({"type": "offer", "to": bob_ws.peer_id, "sdp": "v=0"})
    assert (await bob_again.receive())["type"] == "offer", "signals reach the new socket"


async def test_resuming_into_a_full_room_takes_no_second_place(connect: Connect, alice: User, bob: User):
    await make_room(slug="duo", owner=alice, max_participants=2)
    await enter(connect, alice, slug="duo")
    bob_ws = await connect(bob, slug="duo")
    welcome = await bob_ws.join()

    bob_again = await connect(bob, slug="duo", query=resuming(welcome["resume"]))

    assert (await bob_again.join())["peer_id"] == bob_ws.peer_id


async def test_tokens_for_another_room_person_time_or_key_give_a_new_id(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room, monkeypatch: pytest.MonkeyPatch
):
    alice_ws = await enter(connect, alice)
    await make_room(slug="other", owner=alice)
    bob_elsewhere = await connect(bob, slug="other")
    other_room_token = (await bob_elsewhere.join())["resume"]
    alice_token = resume.issue("standup", alice_ws.peer_id, str(alice.pk))
    forged = signing.dumps(["standup", alice_ws.peer_id, str(mallory.pk)], salt="signaling.resume", key="guessed")
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(time.time()) - 61))
    expired = resume.issue("standup", alice_ws.peer_id, str(mallory.pk))
    monkeypatch.undo()

    attempts = [
        (bob, other_room_token),  # bob's own token, for another room
        (mallory, alice_token),  # alice's token, in mallory's session
        (mallory, forged),  # mallory's claim on alice's id, signed with a key she guessed
        (mallory, expired),  # correctly signed, but older than SIGNALING_RESUME_SECONDS
        (mallory, "not-a-token"),
    ]
    for person, token in attempts:
        ws = await connect(person, query=resuming(token))
        welcome = await ws.join()
        assert welcome["peer_id"] not in (alice_ws.peer_id, bob_elsewhere.peer_id), token
        assert welcome["resumed"] is False
        await ws.ws.disconnect()

    # alice never noticed: nobody took her place, or left in her name.
    for _ in attempts:
        assert (await alice_ws.receive())["type"] == "peer-joined"
        assert (await alice_ws.receive())["type"] == "peer-left"
    assert (await get_presence().find("standup", alice_ws.peer_id)) is not None


async def test_a_ping_gets_a_fresh_token_once_the_last_has_aged(
    connect: Connect, bob: User, room: Room, settings: object
):
    settings.SIGNALING_RESUME_SECONDS = 4  # type: ignore[attr-defined]
    bob_ws = await enter(connect, bob)

    await bob_ws.send({"type": "ping"})
    assert await bob_ws.receive() == {"type": "pong"}, "the welcome's token is young"

    await asyncio.sleep(1.1)
    await bob_ws.send({"type": "ping"})
    pong = await bob_ws.receive()
    assert resume.peer_id_from(pong["resume"], "standup", str(bob.pk)) == bob_ws.peer_id


async def make_room(**fields: object) -> Room:
    from channels.db import database_sync_to_async

    from rooms import services as room_services

    return await database_sync_to_async(room_services.create_room)(**fields)
