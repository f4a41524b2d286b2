"""Two real server processes sharing one Redis and one PostgreSQL: one room, wherever people land.

Each test starts its own redis-server (so it can be stopped and restarted) and two daphne
processes; people log in through the real login form and speak the real protocol.
"""

import asyncio
import http.cookiejar
import json
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.live_server import AppServer, Person, PostgresDatabase, free_port, wait_for

pytestmark = pytest.mark.slow

PEOPLE = [Person("alice", "Alice"), Person("bob", "Bob"), Person("carol", "Carol"), Person("dave", "Dave")]
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class RedisServer:
    """A redis-server of our own on a free port, so a test can take it away and bring it back."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, 10, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        done = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, check=False)
        return done.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresDatabase, Path]]:
    with PostgresDatabase() as db:
        static_root = tmp_path_factory.mktemp("static")
        setup = AppServer(db.url, static_root, name="setup")
        setup.prepare()
        setup.create_users(PEOPLE)
        setup.create_room("standup", owner="alice", name="Standup")
        setup.create_room("trio", owner="alice", max_participants=3)
        setup.close()
        yield db, static_root


def two_servers(
    database: tuple[PostgresDatabase, Path], redis_server: RedisServer, ttl_seconds: float = 30
) -> Iterator[list[AppServer]]:
    db, static_root = database
    # Replicas share one SECRET_KEY, or a session made on one is refused by the other.
    env = {
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PRESENCE_HEARTBEAT_SECONDS": str(min(1, ttl_seconds / 4)),
        "PRESENCE_TTL_SECONDS": str(ttl_seconds),
    }
    started = [AppServer(db.url, static_root, env=env, name=f"app-{n}") for n in ("a", "b")]
    try:
        for server in started:
            server.start()
        yield started
    finally:
        for server in started:
            server.close()


@pytest.fixture
def servers(database: tuple[PostgresDatabase, Path], redis_server: RedisServer) -> Iterator[list[AppServer]]:
    yield from two_servers(database, redis_server)


@pytest.fixture
def quickly_lapsing_servers(
    database: tuple[PostgresDatabase, Path], redis_server: RedisServer
) -> Iterator[list[AppServer]]:
    """As `servers`, with leases that lapse after 3 s, so a test can outwait the sweep."""
    yield from two_servers(database, redis_server, ttl_seconds=3)


def login(server: AppServer, username: str) -> str:
    """Log in through the login form, as a person would; return the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{server.url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the login page has a CSRF token"
    form = urllib.parse.urlencode(
        {"username": username, "password": PEOPLE[0].password, "csrfmiddlewaretoken": token.group(1)}
    ).encode()
    request = urllib.request.Request(f"{server.url}/accounts/login/", data=form, headers={"Referer": server.url})
    opener.open(request, timeout=10)
    cookies = {cookie.name: cookie.value for cookie in jar}
    assert "sessionid" in cookies, f"{username} could not log in"
    return str(cookies["sessionid"])


class Socket:
    """One browser's socket, on one server."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.peer_id = ""

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def receive_type(self, kind: str, timeout: float = 5) -> dict[str, Any]:
        """The next message of type `kind`, skipping others (peer-joined crossing welcome, pongs)."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.01, deadline - time.monotonic()))
            if message["type"] == kind:
                return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))


@pytest.fixture
async def open_socket() -> AsyncIterator[Any]:
    opened: list[ClientConnection] = []

    async def _open(server: AppServer, cookie: str, slug: str = "standup", query: str = "") -> Socket:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{server.port}/ws/rooms/{slug}/" + (f"?{query}" if query else ""),
            additional_headers={"Cookie": f"sessionid={cookie}"},
            origin=server.url,  # type: ignore[arg-type]
            open_timeout=10,
        )
        opened.append(ws)
        return Socket(ws)

    yield _open
    for ws in opened:
        await ws.close()


async def join(
    open_socket: Any, server: AppServer, cookie: str, slug: str = "standup", query: str = ""
) -> tuple[Socket, dict]:
    person = await open_socket(server, cookie, slug, query)
    welcome = await person.receive_type("welcome")
    person.peer_id = welcome["peer_id"]
    return person, welcome


async def test_peers_on_different_processes_negotiate(servers: list[AppServer], open_socket: Any):
    a, b = servers
    alice, _ = await join(open_socket, a, login(a, "alice"))
    bob, bob_welcome = await join(open_socket, b, login(b, "bob"))

    assert bob_welcome["peers"] == [{"peer_id": alice.peer_id, "name": "Alice"}]
    assert (await alice.receive_type("peer-joined"))["peer"] == {"peer_id": bob.peer_id, "name": "Bob"}

    await bob.send({"type": "offer", "to": alice.peer_id, "sdp": SDP})
    offer = await alice.receive_type("offer")
    assert (offer["from"], offer["sdp"]) == (bob.peer_id, SDP)
    await alice.send({"type": "answer", "to": bob.peer_id, "sdp": SDP})
    assert (await bob.receive_type("answer"))["from"] == alice.peer_id


async def test_a_race_across_both_processes_never_overfills_a_room(servers: list[AppServer], open_socket: Any):
    cookies = [login(servers[0], name) for name in ("bob", "carol", "dave")]
    attempts = [open_socket(servers[i % 2], cookies[i % 3], "trio") for i in range(12)]
    people = await asyncio.gather(*attempts)

    first = [await person.receive() for person in people]

    assert [m["type"] for m in first].count("welcome") == 3
    refused = [person for person, m in zip(people, first, strict=True) if m["type"] == "error"]
    assert {m["code"] for m in first if m["type"] == "error"} == {"room_full"}
    for person in refused:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await person.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409


async def test_when_a_process_is_killed_its_peers_leave_within_45_seconds(servers: list[AppServer], open_socket: Any):
    a, b = servers
    alice, _ = await join(open_socket, a, login(a, "alice"))
    bob, _ = await join(open_socket, b, login(b, "bob"))
    assert lobby_count(b, "standup") == 2

    assert a.process is not None
    killed_at = time.monotonic()
    a.process.send_signal(signal.SIGKILL)

    left = await bob.receive_type("peer-left", timeout=45)
    assert left == {"type": "peer-left", "peer_id": alice.peer_id, "resumable": True}
    assert time.monotonic() - killed_at < 45
    assert lobby_count(b, "standup") == 1


async def test_a_peer_of_a_killed_process_resumes_on_the_other_and_is_never_swept(
    quickly_lapsing_servers: list[AppServer], open_socket: Any
):
    a, b = quickly_lapsing_servers
    alice_cookie = login(a, "alice")
    alice, welcome = await join(open_socket, a, alice_cookie)
    bob, _ = await join(open_socket, b, login(b, "bob"))
    await alice.receive_type("peer-joined")

    assert a.process is not None
    a.process.send_signal(signal.SIGKILL)
    # Her browser reconnects at once, through the proxy, to the surviving process.
    alice, again = await join(open_socket, b, alice_cookie, query=f"resume={urllib.parse.quote(welcome['resume'])}")

    assert (again["peer_id"], again["resumed"]) == (alice.peer_id, True)
    assert [peer["peer_id"] for peer in again["peers"]] == [bob.peer_id]
    # Her old entry (process a's, never renewed again) was replaced: one resumable departure,
    # her return, and then nothing from the sweeps of the next four lease lifetimes.
    assert await bob.receive() == {"type": "peer-left", "peer_id": alice.peer_id, "resumable": True}
    assert (await bob.receive())["peer"]["peer_id"] == alice.peer_id
    with pytest.raises(TimeoutError):
        await bob.receive(timeout=12)
    assert lobby_count(b, "standup") == 2
    await bob.send({"type": "offer", "to": alice.peer_id, "sdp": SDP})
    assert (await alice.receive_type("offer"))["from"] == bob.peer_id


async def test_sigterm_closes_sockets_with_1001_and_the_others_see_them_leave(
    servers: list[AppServer], open_socket: Any
):
    a, b = servers
    alice, _ = await join(open_socket, a, login(a, "alice"))
    bob, _ = await join(open_socket, b, login(b, "bob"))

    assert a.process is not None
    a.process.send_signal(signal.SIGTERM)

    going = await alice.receive_type("error")
    assert going["code"] == "going_away"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.receive(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    left = await bob.receive_type("peer-left", timeout=10)
    assert left == {"type": "peer-left", "peer_id": alice.peer_id, "resumable": True}


async def test_losing_redis_closes_sockets_with_1012_and_everything_recovers(
    servers: list[AppServer], open_socket: Any, redis_server: RedisServer
):
    a, b = servers
    alice_cookie, bob_cookie = login(a, "alice"), login(b, "bob")
    alice, _ = await join(open_socket, a, alice_cookie)

    redis_server.stop()

    restarting = await alice.receive_type("error", timeout=15)
    assert restarting["code"] == "service_restarting"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.receive(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012

    redis_server.start()

    alice, _ = await rejoin(open_socket, a, alice_cookie)
    bob, welcome = await rejoin(open_socket, b, bob_cookie)
    assert [peer["peer_id"] for peer in welcome["peers"]] == [alice.peer_id]
    await bob.send({"type": "offer", "to": alice.peer_id, "sdp": SDP})
    assert (await alice.receive_type("offer"))["from"] == bob.peer_id


async def rejoin(open_socket: Any, server: AppServer, cookie: str, deadline: float = 20) -> tuple[Socket, dict]:
    """Reconnect with backoff, as the browser does, until admitted."""
    end, delay = time.monotonic() + deadline, 0.2
    while True:
        try:
            return await join(open_socket, server, cookie)
        except websockets.ConnectionClosed:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2)


def lobby_count(server: AppServer, slug: str) -> int:
    """The live count of `slug` as `manage.py listrooms` prints it."""
    output = server.manage("listrooms")
    for line in output.splitlines():
        columns = line.split()
        if columns and columns[0] == slug:
            match = re.search(r"(\d+)/\d+", line)
            assert match, line
            return int(match.group(1))
    raise AssertionError(f"{slug} not in listrooms:\n{output}")
