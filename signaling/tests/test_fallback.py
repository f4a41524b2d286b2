"""`relay-fallback`: a browser whose direct connection to someone failed asks the relay to carry
that pair. alice and bob are in the standup (a mesh room), carol too; mallory sits in another
room and tries to reach into this one, or to flood."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from django.test import override_settings

from accounts.models import User
from mediaworker import dispatch
from mediaworker.lease import reset_leases
from rooms import services as room_services
from rooms.models import Room, RoomMode
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest_asyncio.fixture(autouse=True)
async def no_worker_left_behind() -> AsyncIterator[None]:
    reset_leases()
    yield
    await dispatch.stop_embedded_worker()


async def two_in_standup(connect: Connect, alice: User, bob: User) -> tuple[Browser, Browser]:
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined bob
    return alice_ws, bob_ws


@pytest.mark.embedded_only
async def test_a_pair_is_handed_to_the_worker_which_tells_both_and_offers(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
) -> None:
    alice_ws, bob_ws = await two_in_standup(connect, alice, bob)
    carol_ws = await enter(connect, carol)
    for ws in (alice_ws, bob_ws):
        await ws.receive()  # peer-joined carol

    await alice_ws.send({"type": "relay-fallback", "peer_id": bob_ws.peer_id, "from": carol_ws.peer_id})

    for ws, partner in ((alice_ws, bob_ws), (bob_ws, alice_ws)):
        told = await ws.receive(timeout=5)
        assert told == {"type": "relay-fallback", "from": "server", "peer_id": partner.peer_id}
        assert (await ws.receive(timeout=5))["type"] == "relay-tracks"
        offer = await ws.receive(timeout=5)
        assert (offer["type"], offer["from"], offer["to"]) == ("offer", "server", ws.peer_id)
    assert await carol_ws.ws.receive_nothing(), "carol's connections are not touched"


@pytest.mark.parametrize(
    ("request_for", "code"),
    [
        ("nobody-here", "unknown_peer"),
        ("server", "unknown_peer"),
        ("self", "unknown_peer"),
        ("mallory", "unknown_peer"),
        (None, "bad_field"),
        (42, "bad_field"),
    ],
)
async def test_a_request_for_anyone_but_someone_else_in_the_room_is_refused(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room, request_for: Any, code: str
) -> None:
    await database_sync_to_async(room_services.create_room)(slug="elsewhere", owner=mallory)
    mallory_ws = await enter(connect, mallory, slug="elsewhere")
    alice_ws, bob_ws = await two_in_standup(connect, alice, bob)
    target = {"self": alice_ws.peer_id, "mallory": mallory_ws.peer_id}.get(request_for, request_for)

    await alice_ws.send({"type": "relay-fallback", "peer_id": target})

    await alice_ws.expect_error(code)
    assert await bob_ws.ws.receive_nothing()
    assert await mallory_ws.ws.receive_nothing()
    assert dispatch.embedded_worker() is None, "no worker was started for a refused request"


async def test_unknown_fields_are_refused(connect: Connect, alice: User, bob: User, room: Room) -> None:
    alice_ws, bob_ws = await two_in_standup(connect, alice, bob)

    await alice_ws.send({"type": "relay-fallback", "peer_id": bob_ws.peer_id, "sdp": "v=0"})

    await alice_ws.expect_error("bad_message")


@override_settings(RELAY_FALLBACK_RATE_PER_SECOND=0.01, RELAY_FALLBACK_BURST=2)
async def test_a_flood_of_requests_is_refused_after_the_burst(
    connect: Connect, alice: User, mallory: User, room: Room
) -> None:
    mallory_ws = await enter(connect, mallory)
    alice_ws = await enter(connect, alice)
    await mallory_ws.receive()  # peer-joined alice

    for _ in range(2):
        await mallory_ws.send({"type": "relay-fallback", "peer_id": "nobody-here"})
        await mallory_ws.expect_error("unknown_peer")
    await mallory_ws.send({"type": "relay-fallback", "peer_id": alice_ws.peer_id})

    refusal = await mallory_ws.expect_error("fallback_too_fast")
    assert "wait a moment" in refusal["message"]
    assert await alice_ws.ws.receive_nothing()
    await mallory_ws.send({"type": "ping"})
    assert await mallory_ws.receive() == {"type": "pong"}, "the connection stays usable"


@pytest.mark.embedded_only
async def test_a_room_already_relayed_refuses_it(connect: Connect, alice: User, bob: User, room: Room) -> None:
    room.mode = RoomMode.RELAY
    await database_sync_to_async(room.save)(update_fields=["mode"])
    alice_ws, bob_ws = await two_in_standup(connect, alice, bob)

    await alice_ws.send({"type": "relay-fallback", "peer_id": bob_ws.peer_id})

    while (message := await alice_ws.receive(timeout=5))["type"] != "error":
        assert message["type"] in ("relay-tracks", "offer", "peer-joined"), message  # the relay room's own link
    assert message["code"] == "not_mesh" and message["message"]


@pytest.mark.redis_only
@override_settings(MEDIAWORKER_START_TIMEOUT=0.3)
async def test_without_a_worker_the_asker_is_told_why(connect: Connect, alice: User, bob: User, room: Room) -> None:
    alice_ws, bob_ws = await two_in_standup(connect, alice, bob)

    await alice_ws.send({"type": "relay-fallback", "peer_id": bob_ws.peer_id})

    refusal = await alice_ws.expect_error("relay_unavailable")
    assert "direct connection to Bob B. failed" in refusal["message"]
    assert "no media worker is running" in refusal["message"]
    assert await bob_ws.ws.receive_nothing()
