"""The media worker as its own process (`manage.py mediaworker`, the Procfile's `worker:` line)
with a real redis-server and a daphne process: people in a relay room hear and see each other
through it, and alice records a mesh call and a relay room (whose uploads the worker copies).
aiortc plays the browsers, over real WebSockets.
"""

import asyncio
import http.cookiejar
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio

from mediaworker.tests.conftest import Caller, poll
from mediaworker.tests.test_relay import RelayCaller, frames_grow
from signaling.tests.conftest import Browser
from tests.live_server import ROOT, AppServer, PostgresDatabase
from tests.test_multiprocess import PEOPLE, RedisServer, Socket, join, login, open_socket, redis_server  # noqa: F401

pytestmark = pytest.mark.slow


class SocketBrowser:
    """What RelayCaller reads and writes, over a real WebSocket (`Socket`)."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.ws = self
        self.peer_id = socket.peer_id

    async def receive_from(self, timeout: float) -> str:
        return str(await asyncio.wait_for(self.socket.ws.recv(), timeout))

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(message)

    async def disconnect(self) -> None:
        await self.socket.ws.close()


class WorkerProcess:
    """`manage.py mediaworker` with a server's settings; its output goes to a log file."""

    def __init__(self, server: AppServer, log_path: Path) -> None:
        self.log_path = log_path
        env = {**server.env, "WORKER_METRICS_PORT": "0"}
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "mediaworker"], cwd=ROOT, env=env, stdout=log, stderr=log
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


@pytest.fixture(scope="module")
def media_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresDatabase, Path]]:
    with PostgresDatabase() as db:
        static_root = tmp_path_factory.mktemp("static")
        setup = AppServer(db.url, static_root, name="setup")
        setup.prepare()
        setup.create_users(PEOPLE)
        setup.create_room("townhall", owner="alice", name="Town hall", mode="relay")
        setup.create_room("standup", owner="alice", name="Standup")
        setup.create_room("pairs", owner="alice", name="Pairs")
        setup.close()
        yield db, static_root


@pytest.fixture
def server_and_worker(
    media_database: tuple[PostgresDatabase, Path],
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[AppServer, WorkerProcess]]:
    db, static_root = media_database
    env = {"REDIS_URL": redis_server.url, "MEDIA_ROOT": str(tmp_path / "media")}  # not the checkout
    server = AppServer(db.url, static_root, env=env, name="app")
    worker: WorkerProcess | None = None
    try:
        server.start()
        worker = WorkerProcess(server, tmp_path / "worker.log")
        yield server, worker
    finally:
        if worker is not None:
            worker.stop()
            print("--- worker log ---", worker.log_path.read_text()[-6000:], sep="\n")
        server.close()


async def relay_caller(
    open_socket: Any,  # noqa: F811
    server: AppServer,
    username: str,
    slug: str = "townhall",
    mode: str = "relay",
) -> RelayCaller:
    socket, welcome = await join(open_socket, server, login(server, username), slug)
    assert welcome["room"]["active_mode"] == mode
    return RelayCaller(cast(Browser, SocketBrowser(socket)))


RelayPair = tuple[AppServer, WorkerProcess, RelayCaller, RelayCaller]


@pytest_asyncio.fixture
async def townhall(
    server_and_worker: tuple[AppServer, WorkerProcess],
    open_socket: Any,  # noqa: F811
) -> AsyncIterator[RelayPair]:
    """alice and bob in the relay room `townhall`, served by a separate worker process; they hang up after."""
    server, worker = server_and_worker
    alice = await relay_caller(open_socket, server, "alice")
    bob = await relay_caller(open_socket, server, "bob")
    try:
        yield server, worker, alice, bob
    finally:
        await alice.hang_up()
        await bob.hang_up()


async def test_a_separate_worker_process_relays_a_room(townhall: RelayPair) -> None:
    _, worker, alice, bob = townhall
    for caller, other in ((alice, bob), (bob, alice)):
        await frames_grow(caller, other, "audio", timeout=60)
        await frames_grow(caller, other, "video", timeout=60)
    await alice.hang_up()
    await bob.hang_up()
    assert worker.process.poll() is None, "the worker is still running"
    await poll(lambda: "stopped serving room townhall" in worker.log_path.read_text(), timeout=30)


async def test_a_separate_worker_process_relays_a_failed_pair_of_a_mesh_room(
    server_and_worker: tuple[AppServer, WorkerProcess],
    open_socket: Any,  # noqa: F811
) -> None:
    server, worker = server_and_worker
    alice = await relay_caller(open_socket, server, "alice", "pairs", mode="mesh")
    bob = await relay_caller(open_socket, server, "bob", "pairs", mode="mesh")
    try:
        await alice.browser.send({"type": "relay-fallback", "peer_id": bob.peer_id})
        for caller, other in ((alice, bob), (bob, alice)):
            await frames_grow(caller, other, "video", timeout=60)
    finally:
        await alice.hang_up()
        await bob.hang_up()
    await poll(lambda: "stopped serving room pairs" in worker.log_path.read_text(), timeout=30)
    assert worker.process.poll() is None


async def packets_sent(caller: Caller, at_least: int) -> bool:
    """`caller` has sent the worker `at_least` audio packets."""
    if caller.pc is None or caller.pc.connectionState != "connected":
        return False
    sent = 0
    for transceiver in caller.pc.getTransceivers():
        if transceiver.kind == "audio":
            stats = await transceiver.sender.getStats()
            sent += sum(getattr(report, "packetsSent", 0) for report in stats.values())
    return sent >= at_least


def recordings_page(server: AppServer, cookie: str, slug: str = "standup") -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    request = urllib.request.Request(
        f"{server.url}/rooms/{slug}/recordings/", headers={"Cookie": f"sessionid={cookie}"}
    )
    return str(opener.open(request, timeout=10).read().decode())


async def test_a_separate_worker_process_records_a_call(
    server_and_worker: tuple[AppServer, WorkerProcess],
    open_socket: Any,  # noqa: F811
) -> None:
    server, worker = server_and_worker
    cookie = login(server, "alice")
    alice_socket, _ = await join(open_socket, server, cookie)
    bob_socket, _ = await join(open_socket, server, login(server, "bob"))
    alice = Caller(cast(Browser, SocketBrowser(alice_socket)))
    bob = Caller(cast(Browser, SocketBrowser(bob_socket)))
    try:
        await alice.browser.send({"type": "recording", "action": "start"})
        for caller in (alice, bob):
            await poll(partial(caller.got, type="recording", active=True, by="Alice"), timeout=30)
        # The worker offered to both, and both have sent it a few seconds of audio (50 packets/s).
        for caller in (alice, bob):
            await poll(partial(packets_sent, caller, 150), timeout=60)
        await alice.browser.send({"type": "recording", "action": "stop"})
        await poll(partial(bob.got, type="recording", active=False, by="Alice"), timeout=30)
        # The composite is made by the worker process; the owner's page then offers it.
        await poll(lambda: "Download" in recordings_page(server, cookie), timeout=120)
    finally:
        await alice.hang_up()
        await bob.hang_up()
    assert worker.process.poll() is None


async def test_a_separate_worker_process_records_a_relay_room(townhall: RelayPair) -> None:
    server, worker, alice, bob = townhall
    await frames_grow(alice, bob, "audio", timeout=60)
    # The start goes to the worker relaying the room, which answers over Redis (worker.reply).
    await alice.browser.send({"type": "recording", "action": "start"})
    for caller in (alice, bob):
        await poll(partial(caller.got, type="recording", active=True, by="Alice"), timeout=30)
    await frames_grow(bob, alice, "audio", by=150, timeout=60)  # 3 s of Alice while recorded
    await alice.browser.send({"type": "recording", "action": "stop"})
    await poll(partial(bob.got, type="recording", active=False, by="Alice"), timeout=30)
    await frames_grow(alice, bob, "audio", timeout=60)  # the relay goes on
    cookie = login(server, "alice")
    await poll(lambda: "Download" in recordings_page(server, cookie, "townhall"), timeout=120)
    assert worker.process.poll() is None
