"""The Janus client against Debian's janus, started from the shipped deploy/janus configuration."""

import asyncio
import signal
import time
from collections.abc import Callable

import pytest

from sfu import videoroom
from sfu.janus_client import (
    ClientOptions,
    JanusConnection,
    JanusError,
    JanusTimeout,
    JanusUnavailable,
    Session,
    SessionLost,
    close_connections,
    connection_for,
)
from sfu.tests.janus_server import JanusServer
from tests.live_server import free_port

pytestmark = pytest.mark.slow

Connect = Callable[..., JanusConnection]


def test_the_shipped_configuration_refuses_requests_without_the_api_secret_or_with_a_wrong_one(janus: JanusServer):
    without = janus.request_without_client({"janus": "create", "transaction": "t1"})
    wrong = janus.request_without_client({"janus": "create", "transaction": "t2", "apisecret": "janusrocks"})
    right = janus.request_without_client({"janus": "create", "transaction": "t3", "apisecret": janus.api_secret})

    assert without["janus"] == wrong["janus"] == "error"
    refusal = {"code": 403, "reason": "Unauthorized request (wrong or missing secret/token)"}
    assert without["error"] == wrong["error"] == refusal
    assert right["janus"] == "success"


async def test_a_client_with_a_wrong_secret_gets_janus_code_and_reason(janus: JanusServer, connect_to: Connect):
    with pytest.raises(JanusError) as refused:
        await connect_to(janus, secret="not-the-secret").create_session()

    assert refused.value.code == 403
    assert str(refused.value) == (
        "Janus refused create: Unauthorized request (wrong or missing secret/token) (Janus error 403)."
    )


async def test_the_shipped_configuration_serves_only_the_videoroom_over_loopback_websockets(
    janus: JanusServer, connect_to: Connect
):
    connection = connect_to(janus)
    info = await connection.info()
    handle = await (await connection.create_session()).attach(videoroom.PLUGIN)

    assert janus.listening_sockets() == [f"127.0.0.1:{janus.port}"], "no HTTP, admin or other API"
    assert list(info["plugins"]) == ["janus.plugin.videoroom"]
    assert list(info["transports"]) == ["janus.transport.websockets"]
    assert info["api_secret"] is True
    assert info["session-timeout"] == 60
    assert "dependencies" not in info
    assert await videoroom.list_rooms(handle, janus.admin_key) == [], "no demo rooms"


async def test_transactions_run_concurrently_and_a_private_room_is_listed_only_with_the_admin_key(
    janus: JanusServer, connect_to: Connect
):
    session = await connect_to(janus).create_session()
    handle = await session.attach(videoroom.PLUGIN)
    room, other = await asyncio.gather(
        videoroom.create_room(handle, janus.admin_key, publishers=6, description="alice's call"),
        videoroom.create_room(handle, janus.admin_key, publishers=2, description="bob's call"),
    )

    public_list, admin_list = await asyncio.gather(
        videoroom.list_rooms(handle), videoroom.list_rooms(handle, janus.admin_key)
    )
    assert public_list == []
    assert {(item["room"], item["description"], item["is_private"], item["pin_required"]) for item in admin_list} == {
        (room.room, "alice's call", True, True),
        (other.room, "bob's call", True, True),
    }
    with pytest.raises(JanusError) as no_key:
        await videoroom.create_room(handle, "janusrocks", publishers=6)
    assert no_key.value.code == 433  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED


async def test_a_room_admits_the_server_chosen_identity_only_with_its_pin(janus: JanusServer, connect_to: Connect):
    session = await connect_to(janus).create_session()
    admin, alice, mallory = await asyncio.gather(*(session.attach(videoroom.PLUGIN) for _ in range(3)))
    room = await videoroom.create_room(admin, janus.admin_key, publishers=6)

    with pytest.raises(JanusError) as wrong_pin:
        await videoroom.join_as_publisher(mallory, videoroom.RoomAccess(room.room, "", "guess"), 66, "mallory")
    joined = await videoroom.join_as_publisher(alice, room, 11, "Alice")

    assert wrong_pin.value.code == 433
    assert (joined["room"], joined["id"], joined["publishers"]) == (room.room, 11, [])
    assert await videoroom.list_participants(admin, room) == [videoroom.Participant(11, "Alice", False)]
    with pytest.raises(JanusError):
        await videoroom.destroy_room(admin, videoroom.RoomAccess(room.room, "guess", room.pin))
    await videoroom.destroy_room(admin, room)
    assert await videoroom.list_rooms(admin, janus.admin_key) == []
    await session.destroy()
    with pytest.raises(SessionLost, match="the session was destroyed"):
        await session.attach(videoroom.PLUGIN)


async def test_keepalives_keep_a_session_past_janus_session_timeout(
    quick_timeout_janus: JanusServer, connect_to: Connect
):
    kept = await connect_to(quick_timeout_janus).create_session()  # keepalive every second
    idle = await connect_to(quick_timeout_janus, options=ClientOptions(keepalive_interval=3600)).create_session()
    started = time.monotonic()

    await asyncio.wait_for(idle.lost.wait(), timeout=20)
    handle = await kept.attach(videoroom.PLUGIN)

    assert time.monotonic() - started > 2, "Janus's session_timeout (2 s) has passed"
    assert idle.lost_reason.endswith("timed the session out")
    assert handle.id > 0 and not kept.lost.is_set()
    with pytest.raises(SessionLost):
        await idle.attach(videoroom.PLUGIN)


async def test_a_janus_restart_mid_session_is_reported_as_session_lost_and_new_requests_work(
    janus: JanusServer, connect_to: Connect
):
    connection = connect_to(janus)
    lost: list[Session] = []
    connection.on_session_lost.append(lost.append)
    session = await connection.create_session()
    handle = await session.attach(videoroom.PLUGIN)
    room = await videoroom.create_room(handle, janus.admin_key, publishers=6)
    waiting = asyncio.create_task(handle.next_event(timeout=60))

    await asyncio.to_thread(janus.restart, signal.SIGKILL)
    await asyncio.wait_for(session.lost.wait(), timeout=10)

    assert lost == [session]
    assert "connection to Janus" in session.lost_reason
    with pytest.raises(SessionLost):
        await waiting
    with pytest.raises(SessionLost, match="is gone"):
        await videoroom.list_rooms(handle)
    new_handle = await (await connection.create_session()).attach(videoroom.PLUGIN)
    assert connection.reconnects == 1
    assert await videoroom.list_rooms(new_handle, janus.admin_key) == [], f"room {room.room} died with Janus"


async def test_a_request_janus_does_not_answer_times_out_with_a_clear_error(janus: JanusServer, connect_to: Connect):
    session = await connect_to(janus, options=ClientOptions(request_timeout=1.0)).create_session()
    janus.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(JanusTimeout, match=r"did not answer attach within 1\.0 s\."):
            await session.attach(videoroom.PLUGIN)
        assert 0.9 < time.monotonic() - started < 3
    finally:
        janus.send_signal(signal.SIGCONT)
    assert (await session.attach(videoroom.PLUGIN)).id > 0, "the session survives a slow answer"


async def test_an_unreachable_janus_is_a_clear_error_after_the_timeout():
    connection = JanusConnection(f"ws://127.0.0.1:{free_port()}", "secret", ClientOptions(request_timeout=1.0))
    try:
        with pytest.raises(JanusUnavailable, match=r"is unreachable \(.*Errno 111.*\); retried for 1\.0 s\."):
            await connection.create_session()
    finally:
        await connection.close()


async def test_a_process_keeps_one_connection_per_janus(janus: JanusServer):
    first = connection_for(janus.url, janus.api_secret)
    again = connection_for(janus.url, janus.api_secret)
    session = await again.create_session()

    assert first is again
    await close_connections()
    assert session.lost.is_set()
    assert connection_for(janus.url, janus.api_secret) is not first
    await close_connections()


async def test_a_reader_cancelled_as_an_event_arrives_stops_reading(janus: JanusServer, connect_to: Connect):
    """A task reading a handle's events in a loop is cancelled in the same moment an event comes:
    it must end (a reader that lost its cancellation went on reading for ever: a hung shutdown)."""
    handle = await (await connect_to(janus).create_session()).attach(videoroom.PLUGIN)

    async def read_for_ever() -> None:
        while True:
            await handle.next_event(timeout=60)

    for ticks in range(6):
        reader = asyncio.create_task(read_for_ever())
        await asyncio.sleep(0)
        handle.events.put_nowait({"janus": "event", "tick": ticks})
        for _ in range(ticks):
            await asyncio.sleep(0)
        reader.cancel()
        done, _ = await asyncio.wait({reader}, timeout=5)
        assert done == {reader} and reader.cancelled(), f"still reading after a cancel {ticks} ticks after an event"
