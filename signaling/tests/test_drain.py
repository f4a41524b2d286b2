"""A draining shutdown (SIGTERM) and the joins still on their way when it closes their sockets."""

import asyncio
import json
from typing import Any

import pytest
from autobahn.exception import Disconnected
from channels.testing import WebsocketCommunicator
from django.conf import settings

from accounts.models import User
from audioexchange.asgi import application
from rooms.models import Room
from signaling import shutdown
from signaling.hub import hub
from signaling.presence import get_presence
from signaling.tests.conftest import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def refusing_sends_once_closed(app: Any) -> Any:
    """The application as daphne serves it: once the socket is closing, a send raises autobahn's
    `Disconnected` (the test communicator would take it silently)."""

    async def served(scope: Any, receive: Any, send: Any) -> None:
        closed = False

        async def checked_send(message: dict[str, Any]) -> None:
            nonlocal closed
            if closed:
                raise Disconnected("Attempt to send on a closed protocol")
            closed = message["type"] == "websocket.close"
            await send(message)

        await app(scope, receive, checked_send)

    return served


async def test_a_join_on_its_way_when_the_server_drains_gets_no_welcome_and_leaves_the_room(
    bob: User, room: Room, monkeypatch: pytest.MonkeyPatch
):
    """Found by bench.chaos: SIGTERM closes every socket with 1001 while some joins are still on
    their way; each such join then sent its welcome to a closed socket, and daphne's
    `Disconnected` crashed the consumer (a traceback in the log per socket)."""
    monkeypatch.setattr(hub, "draining", False)  # drain() sets it; put back after the test
    gate = hub.admission_gate(settings.SIGNALING_CONCURRENT_JOINS)
    for _ in range(settings.SIGNALING_CONCURRENT_JOINS):
        await gate.acquire()  # every place taken: Bob's join waits at the gate, on its way
    headers = [(b"origin", ORIGIN.encode()), (b"cookie", f"sessionid={await session_cookie(bob)}".encode())]
    bob_ws = WebsocketCommunicator(refusing_sends_once_closed(application), "/ws/rooms/standup/", headers=headers)
    try:
        assert (await bob_ws.connect(timeout=5))[0]
        await shutdown.drain(0, deadline=0.5)
        told = json.loads(await bob_ws.receive_from(timeout=5))
        closed = await bob_ws.receive_output(timeout=5)
    finally:
        for _ in range(settings.SIGNALING_CONCURRENT_JOINS):
            gate.release()
    assert (told["type"], told["code"]) == ("error", "going_away")
    assert closed == {"type": "websocket.close", "code": 1001}

    # The join goes on and takes Bob's place (his browser comes back and resumes it) ...
    while not bob_ws.future.done() and not await get_presence().members("standup"):
        await asyncio.sleep(0.02)
    assert not bob_ws.future.done(), bob_ws.future.exception()  # the consumer did not crash
    assert [peer.name for peer in await get_presence().members("standup")] == ["Bob B."]
    assert await bob_ws.receive_nothing()  # ... and sends nothing to the closed socket

    await bob_ws.disconnect()  # the close completes; the consumer ends without a crash

    assert await get_presence().members("standup") == []
