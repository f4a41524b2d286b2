"""Moderation and knock-to-enter across two real server processes sharing Redis: the
moderator and the person acted on are served by different processes."""

import asyncio
from typing import Any

import pytest
import websockets

from tests.live_server import AppServer
from tests.test_multiprocess import (  # noqa: F401 - fixtures
    database,
    join,
    login,
    open_socket,
    redis_server,
    servers,
)

pytestmark = pytest.mark.slow


async def test_a_moderator_on_one_process_removes_and_bars_someone_on_the_other(
    servers: list[AppServer],  # noqa: F811 - the fixtures imported above
    open_socket: Any,  # noqa: F811
):
    a, b = servers
    bob_cookie = login(b, "bob")
    alice, _ = await join(open_socket, a, login(a, "alice"))
    bob, _ = await join(open_socket, b, bob_cookie)
    await alice.receive_type("peer-joined")

    await alice.send({"type": "moderate", "action": "remove_and_bar", "peer_id": bob.peer_id})

    assert (await bob.receive_type("error"))["code"] == "banned"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await bob.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert (await alice.receive_type("peer-left"))["peer_id"] == bob.peer_id
    for server in (a, b):
        comeback = await open_socket(server, bob_cookie)
        assert (await comeback.receive())["code"] == "banned"


async def test_a_knock_on_one_process_is_answered_from_the_other(
    servers: list[AppServer],  # noqa: F811 - the fixtures imported above
    open_socket: Any,  # noqa: F811
):
    a, b = servers
    a.manage("createroom", "knocky", "--owner", "alice")
    a.manage("shell", "-c", "from rooms.models import Room; Room.objects.filter(slug='knocky').update(knock=True)")
    alice, _ = await join(open_socket, a, login(a, "alice"), "knocky")
    bob = await open_socket(b, login(b, "bob"), "knocky")

    assert (await bob.receive())["type"] == "waiting"
    knocking = await alice.receive_type("knocking")
    assert knocking["peer"]["name"] == "Bob"
    await alice.send({"type": "chat", "text": "only for those inside"})
    await alice.receive_type("chat")
    with pytest.raises(asyncio.TimeoutError):
        await bob.receive(timeout=1.5)

    await alice.send({"type": "moderate", "action": "admit", "peer_id": knocking["peer"]["peer_id"]})

    welcome = await bob.receive_type("welcome")
    assert [line["text"] for line in welcome["chat"]] == ["only for those inside"]
    assert (await alice.receive_type("peer-joined"))["peer"]["peer_id"] == welcome["peer_id"]
