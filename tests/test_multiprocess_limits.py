"""Who gets into a room holds across two real server processes sharing Redis: mallory's socket
cap, her removal and her bar, whichever process each of her sockets landed on; and a flood of
sockets without a session never keeps a signed-in person from joining."""

import asyncio
import subprocess
import sys
import time
from typing import Any

import pytest
import websockets

from tests.live_server import ROOT, AppServer, Person
from tests.test_multiprocess import (  # noqa: F401 - fixtures
    Socket,
    database,
    join,
    login,
    open_socket,
    redis_server,
    servers,
)

pytestmark = pytest.mark.slow

FLOODERS = 50
FLOOD_SECONDS = 12
WELCOME_WITHIN_SECONDS = 2.0


def mallory_logs_in(server: AppServer, slug: str) -> str:
    """Mallory's session, and a room of alice's of her own for this test (the database is the
    module's: a ban in one test must not follow her into the next)."""
    server.create_users([Person("mallory", "Mallory")])
    server.create_room(slug, owner="alice")
    return login(server, "mallory")


async def closed_with(socket: Socket) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await socket.receive()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_mallorys_socket_cap_holds_across_both_processes(
    servers: list[AppServer],  # noqa: F811 - the fixtures imported above
    open_socket: Any,  # noqa: F811
):
    a, b = servers
    cookie = mallory_logs_in(a, "capped")
    alice, _ = await join(open_socket, a, login(a, "alice"), "capped")
    for server in (a, a, b):
        await join(open_socket, server, cookie, "capped")
        await alice.receive_type("peer-joined")

    for server in (a, b):
        fourth = await open_socket(server, cookie, "capped")
        error = await fourth.receive()
        assert (error["type"], error["code"]) == ("error", "too_many_connections")
        assert await closed_with(fourth) == 4429

    await alice.send({"type": "chat", "text": "still on"})
    assert (await alice.receive_type("chat"))["text"] == "still on", "alice's call went on"


async def test_removing_and_barring_mallory_closes_her_sockets_on_both_processes(
    servers: list[AppServer],  # noqa: F811 - the fixtures imported above
    open_socket: Any,  # noqa: F811
):
    a, b = servers
    cookie = mallory_logs_in(a, "barred")
    alice, _ = await join(open_socket, a, login(a, "alice"), "barred")
    on_a, _ = await join(open_socket, a, cookie, "barred")
    on_b, _ = await join(open_socket, b, cookie, "barred")
    for _ in range(2):
        await alice.receive_type("peer-joined")

    await alice.send({"type": "moderate", "action": "remove_and_bar", "peer_id": on_b.peer_id})

    for tab in (on_a, on_b):
        assert (await tab.receive_type("error"))["code"] == "banned"
        assert await closed_with(tab) == 4403
    left = {(await alice.receive_type("peer-left"))["peer_id"] for _ in range(2)}
    assert left == {on_a.peer_id, on_b.peer_id}
    for server in (a, b):
        comeback = await open_socket(server, cookie, "barred")
        assert (await comeback.receive())["code"] == "banned"


async def test_mallory_dropping_her_socket_on_one_process_is_still_barred_from_the_other(
    servers: list[AppServer],  # noqa: F811 - the fixtures imported above
    open_socket: Any,  # noqa: F811
):
    a, b = servers
    cookie = mallory_logs_in(a, "dropped")
    alice, _ = await join(open_socket, a, login(a, "alice"), "dropped")
    mallory, welcome = await join(open_socket, b, cookie, "dropped")
    await alice.receive_type("peer-joined")

    mallory.ws.transport.abort()  # the cable is pulled: no closing handshake
    assert (await alice.receive_type("peer-left"))["resumable"] is True
    await alice.send({"type": "moderate", "action": "remove_and_bar", "peer_id": mallory.peer_id})

    for server in (b, a):
        comeback = await open_socket(server, cookie, "dropped", query=f"resume={welcome['resume']}")
        assert (await comeback.receive())["code"] == "banned"
    await alice.send({"type": "ping"})
    assert (await alice.receive())["type"] == "pong", "no error for alice: the bar reached someone just gone"


async def test_a_flood_of_sockets_without_a_session_does_not_delay_a_join(
    servers: list[AppServer],  # noqa: F811 - the fixtures imported above
    open_socket: Any,  # noqa: F811
):
    a, _ = servers
    cookie = login(a, "alice")
    flood = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "flood_sockets.py"), str(a.port), str(FLOODERS), str(FLOOD_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        await asyncio.sleep(2)  # the flooders are in their loops
        waits = []
        for _ in range(5):
            started = time.monotonic()
            alice, _ = await join(open_socket, a, cookie)
            waits.append(time.monotonic() - started)
            await alice.ws.close()
        assert flood.poll() is None, "the flood lasted as long as the joins"
    finally:
        output, _ = flood.communicate(timeout=FLOOD_SECONDS + 30)
    refused, failed = (int(count) for count in output.split())
    print(f"welcome under a flood of {FLOODERS} sockets: {[round(wait, 3) for wait in waits]} s;")
    print(f"the flood: {refused} sockets refused, {failed} handshakes dropped")
    assert refused > FLOODERS, "every flooder was refused, again and again"
    assert max(waits) < WELCOME_WITHIN_SECONDS, waits
