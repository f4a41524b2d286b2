"""Offers, answers and candidates reach the one peer they are for, and nobody else."""

import json

import pytest
from django.test import override_settings

from accounts.models import User
from rooms import services as room_services
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


async def three_in_standup(connect: Connect, alice: User, bob: User, carol: User) -> tuple[Browser, Browser, Browser]:
    people = []
    for user in (alice, bob, carol):
        ws = await connect(user)
        await ws.join()
        people.append(ws)
    alice_ws, bob_ws, carol_ws = people
    for _ in range(2):
        await alice_ws.receive()  # peer-joined bob, carol
    await bob_ws.receive()  # peer-joined carol
    return alice_ws, bob_ws, carol_ws


async def test_offer_answer_and_candidates_reach_only_their_target(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws, bob_ws, carol_ws = await three_in_standup(connect, alice, bob, carol)

    await bob_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})
    assert await alice_ws.receive() == {"type": "offer", "from": bob_ws.peer_id, "to": alice_ws.peer_id, "sdp": SDP}

    await alice_ws.send({"type": "answer", "to": bob_ws.peer_id, "sdp": SDP})
    assert (await bob_ws.receive())["type"] == "answer"

    await alice_ws.send({"type": "ice", "to": bob_ws.peer_id, "candidate": CANDIDATE})
    await alice_ws.send({"type": "ice", "to": bob_ws.peer_id, "candidate": None})
    assert (await bob_ws.receive())["candidate"] == CANDIDATE
    assert (await bob_ws.receive())["candidate"] is None

    assert await carol_ws.ws.receive_nothing()


async def test_a_forged_sender_is_replaced_by_the_real_one(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws, bob_ws, carol_ws = await three_in_standup(connect, alice, bob, carol)

    await carol_ws.send({"type": "offer", "to": alice_ws.peer_id, "from": bob_ws.peer_id, "sdp": SDP})

    assert (await alice_ws.receive())["from"] == carol_ws.peer_id


async def test_nobody_can_reach_into_another_room(connect: Connect, alice: User, bob: User, mallory: User, room: Room):
    await _create_room("elsewhere", alice)
    alice_ws = await connect(alice)
    await alice_ws.join()
    mallory_ws = await connect(mallory, slug="elsewhere")
    await mallory_ws.join()

    await mallory_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})

    await mallory_ws.expect_error("unknown_peer")
    assert await alice_ws.ws.receive_nothing()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "bad_message"),
        ('"offer"', "bad_message"),
        ("{}", "unknown_type"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type": "offer", "to": "x", "sdp": "v=0", "extra": 1}', "bad_message"),
        ('{"type": "offer", "sdp": "v=0"}', "bad_field"),
        ('{"type": "offer", "to": 42, "sdp": "v=0"}', "bad_field"),
        ('{"type": "offer", "to": "PEER", "sdp": 5}', "bad_field"),
        ('{"type": "answer", "to": "PEER", "sdp": ""}', "bad_field"),
        ('{"type": "ice", "to": "PEER"}', "bad_field"),
        ('{"type": "ice", "to": "PEER", "candidate": "candidate:1"}', "bad_field"),
        ('{"type": "ice", "to": "PEER", "candidate": {"candidate": 1}}', "bad_field"),
        ('{"type": "ice", "to": "PEER", "candidate": {"candidate": "c", "sdpMLineIndex": "0"}}', "bad_field"),
        ('{"type": "ice", "to": "PEER", "candidate": {"candidate": "c", "evil": true}}', "bad_field"),
        ('{"type": "offer", "to": "nobody-here", "sdp": "v=0"}', "unknown_peer"),
    ],
)
async def test_every_bad_message_gets_an_error_and_the_connection_stays_usable(
    connect: Connect, alice: User, bob: User, room: Room, frame: str, code: str
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined

    await bob_ws.send(frame.replace("PEER", alice_ws.peer_id))

    await bob_ws.expect_error(code)
    assert await alice_ws.ws.receive_nothing()
    await bob_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})
    assert (await alice_ws.receive())["from"] == bob_ws.peer_id


async def test_binary_frames_and_messages_to_oneself_are_refused(connect: Connect, bob: User, room: Room):
    bob_ws = await connect(bob)
    await bob_ws.join()

    await bob_ws.ws.send_to(bytes_data=b"\x00\x01")
    await bob_ws.expect_error("binary_unsupported")
    await bob_ws.send({"type": "offer", "to": bob_ws.peer_id, "sdp": SDP})
    await bob_ws.expect_error("unknown_peer")
    await bob_ws.send({"type": "ping"})
    assert await bob_ws.receive() == {"type": "pong"}


async def test_frames_over_64_kib_are_refused(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()
    sdp = "a=x\r\n" * (64 * 1024 // 5 + 1)

    await bob_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": sdp})

    error = await bob_ws.expect_error("too_large")
    assert "65536" in error["message"]
    assert await alice_ws.ws.receive_nothing()
    await bob_ws.send({"type": "ping"})
    assert await bob_ws.receive() == {"type": "pong"}


@override_settings(SIGNALING_RATE_LIMIT_PER_SECOND=1, SIGNALING_RATE_LIMIT_BURST=5, SIGNALING_RATE_LIMIT_STRIKES=30)
async def test_a_flood_is_answered_then_its_sender_is_cut_off_without_slowing_other_rooms(
    connect: Connect, alice: User, bob: User, carol: User, mallory: User, room: Room
):
    await _create_room("quiet", alice)
    mallory_ws = await enter(connect, mallory)
    bob_ws = await enter(connect, bob)
    await mallory_ws.receive()  # peer-joined bob
    alice_ws = await enter(connect, alice, slug="quiet")
    carol_ws = await enter(connect, carol, slug="quiet")
    await alice_ws.receive()

    for _ in range(5):
        await mallory_ws.send({"type": "ping"})
        assert await mallory_ws.receive() == {"type": "pong"}
    await mallory_ws.send({"type": "ping"})
    await mallory_ws.expect_error("rate_limited")

    await carol_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})
    assert (await alice_ws.receive())["from"] == carol_ws.peer_id

    for _ in range(40):
        await mallory_ws.send({"type": "offer", "to": bob_ws.peer_id, "sdp": SDP})
    frames = []
    while (output := await mallory_ws.ws.receive_output(timeout=2))["type"] == "websocket.send":
        frames.append(json.loads(output["text"]))
    assert output == {"type": "websocket.close", "code": CloseCode.RATE_LIMITED}
    assert {frame["code"] for frame in frames} == {"rate_limited"}
    assert frames[-1]["message"].startswith("Disconnected")
    await mallory_ws.ws.disconnect()  # the transport finishes the close, as daphne would
    assert await bob_ws.receive() == {"type": "peer-left", "peer_id": mallory_ws.peer_id}
    assert await bob_ws.ws.receive_nothing(), "none of the flood reached bob"


async def _create_room(slug: str, owner: User) -> Room:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(room_services.create_room)(slug=slug, owner=owner)
