"""`media-state`: microphone, camera, raised hand and shared screen, shown on everyone's tiles.

alice and bob are in the standup; carol arrives late; mallory sits in another room and
tries to forge or flood.
"""

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from accounts.models import User
from rooms import services as room_services
from rooms.models import Room
from signaling.tests.conftest import Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)

HAND_UP = {"type": "media-state", "audio": False, "video": True, "hand": True, "screen": None}
SHARING = {
    "type": "media-state",
    "audio": True,
    "video": True,
    "hand": False,
    "screen": "9f1c2b7e-4d1a-4c55-8e0b-2d6a1f3c9b10",
}


def public(state: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in state.items() if key != "type"}


async def test_a_state_reaches_everyone_in_the_room_with_the_sender_set_by_the_server(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room
):
    await database_sync_to_async(room_services.create_room)(slug="elsewhere", owner=mallory)
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined bob
    mallory_ws = await enter(connect, mallory, slug="elsewhere")

    await bob_ws.send({**HAND_UP, "from": alice_ws.peer_id})

    expected = {"type": "media-state", "from": bob_ws.peer_id, **public(HAND_UP)}
    assert await alice_ws.receive() == expected
    assert await bob_ws.receive() == expected, "the sender sees what the room was told"
    assert await mallory_ws.ws.receive_nothing(), "another room hears nothing"


async def test_a_late_joiner_finds_the_current_states_in_welcome(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined bob
    await alice_ws.send(SHARING)
    await bob_ws.send(HAND_UP)
    for _ in range(2):
        await alice_ws.receive()
        await bob_ws.receive()

    carol_welcome = await (await connect(carol)).join()

    assert carol_welcome["media_states"] == {alice_ws.peer_id: public(SHARING), bob_ws.peer_id: public(HAND_UP)}


async def test_a_state_is_forgotten_when_its_owner_leaves(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws = await enter(connect, alice)
    await alice_ws.send(HAND_UP)
    await alice_ws.receive()
    await alice_ws.ws.disconnect()
    bob_ws = await enter(connect, bob)

    carol_welcome = await (await connect(carol)).join()

    assert carol_welcome["media_states"] == {}
    assert [peer["peer_id"] for peer in carol_welcome["peers"]] == [bob_ws.peer_id]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({**HAND_UP, "name": "Alice"}, "bad_message"),
        ({**HAND_UP, "volume": 3}, "bad_message"),
        ({"type": "media-state", "audio": True, "video": True, "hand": False}, "bad_field"),
        ({**HAND_UP, "hand": "yes"}, "bad_field"),
        ({**HAND_UP, "audio": 1}, "bad_field"),
        ({**HAND_UP, "screen": 42}, "bad_field"),
        ({**HAND_UP, "screen": "<img src=x onerror=alert(1)>"}, "bad_field"),
        ({**HAND_UP, "screen": "x" * 65}, "bad_field"),
    ],
)
async def test_a_malformed_state_is_refused_and_nobody_hears_of_it(
    connect: Connect, alice: User, bob: User, carol: User, room: Room, frame: dict[str, object], code: str
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined bob

    await bob_ws.send(frame)

    await bob_ws.expect_error(code)
    assert await alice_ws.ws.receive_nothing()
    assert (await (await connect(carol)).join())["media_states"] == {}, "nothing was kept"


@override_settings(MEDIA_STATE_RATE_PER_SECOND=0.01, MEDIA_STATE_BURST=3)
async def test_a_flood_of_states_is_refused_after_the_burst(connect: Connect, alice: User, mallory: User, room: Room):
    alice_ws = await enter(connect, alice)
    mallory_ws = await enter(connect, mallory)
    await alice_ws.receive()  # peer-joined mallory

    for hand in (True, False, True):
        await mallory_ws.send({**HAND_UP, "hand": hand})
        assert (await alice_ws.receive())["hand"] is hand
        await mallory_ws.receive()
    await mallory_ws.send({**HAND_UP, "hand": False})

    error = await mallory_ws.expect_error("media_state_too_fast")
    assert "wait" in error["message"]
    assert await alice_ws.ws.receive_nothing()
