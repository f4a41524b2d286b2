"""One person holds at most ROOM_SOCKETS_PER_PERSON sockets in a room (admitted or knocking);
one more is refused with `too_many_connections`, and everyone else's call goes on."""

from typing import Any

import pytest

from accounts.models import User
from moderation.tests.conftest import make_room
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


async def next_of_type(ws: Browser, kind: str) -> dict[str, Any]:
    """The next message of type `kind` (earlier tabs also hear of the later ones joining)."""
    while (message := await ws.receive())["type"] != kind:
        assert message["type"] == "peer-joined", message
    return message


async def test_one_more_socket_than_allowed_is_refused_and_the_call_goes_on(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room, settings: Any
):
    assert settings.ROOM_SOCKETS_PER_PERSON == 3, "the documented default"
    alice_ws = await enter(connect, alice)
    tabs = [await enter(connect, mallory) for _ in range(3)]
    for _ in tabs:
        assert (await alice_ws.receive())["type"] == "peer-joined"

    fourth = await connect(mallory)
    error = await fourth.expect_error("too_many_connections")
    assert "3 connections" in error["message"] and "close one" in error["message"]
    await fourth.expect_close(CloseCode.RATE_LIMITED)

    assert await alice_ws.ws.receive_nothing(), "nobody was told of the refused socket"
    await alice_ws.send({"type": "chat", "text": "still here?"})
    for ws in (alice_ws, *tabs):
        assert (await next_of_type(ws, "chat"))["text"] == "still here?"
    await enter(connect, bob)  # someone else is not counted against mallory

    await tabs[0].ws.disconnect()
    await enter(connect, mallory)  # one closed, one more may open


async def test_knocking_sockets_count_against_the_limit(connect: Connect, alice: User, mallory: User, settings: Any):
    settings.ROOM_SOCKETS_PER_PERSON = 2
    await make_room("standup", alice, knock=True)
    alice_ws = await enter(connect, alice)
    for _ in range(2):
        waiting = await connect(mallory)
        assert (await waiting.receive())["type"] == "waiting"
        assert (await alice_ws.receive())["type"] == "knocking"

    third = await connect(mallory)
    await third.expect_error("too_many_connections")
    await third.expect_close(CloseCode.RATE_LIMITED)
    assert await alice_ws.ws.receive_nothing(), "the moderator's waiting list did not grow"
