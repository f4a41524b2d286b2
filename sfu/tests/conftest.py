"""Fixtures: a real Janus (Debian's, from the shipped deploy/janus configuration) and clients."""

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from sfu.janus_client import ClientOptions, JanusConnection
from sfu.tests.janus_server import JanusServer

# Quick enough for tests; production keeps the defaults (keepalive 25 s, timeout 10 s).
FAST = ClientOptions(request_timeout=5.0, keepalive_interval=1.0, reconnect_min_delay=0.1, reconnect_max_delay=0.5)


@pytest.fixture
def janus(tmp_path: Path) -> Iterator[JanusServer]:
    with JanusServer(tmp_path) as server:
        yield server


@pytest.fixture
def quick_timeout_janus(tmp_path: Path) -> Iterator[JanusServer]:
    """A Janus that destroys a session after 2 s without a request."""
    with JanusServer(tmp_path, session_timeout=2) as server:
        yield server


@pytest.fixture
async def connect_to() -> AsyncIterator[Callable[..., JanusConnection]]:
    """Open client connections (started), closed at the end of the test."""
    opened: list[JanusConnection] = []

    def connect(server: JanusServer, secret: str | None = None, options: ClientOptions = FAST) -> JanusConnection:
        connection = JanusConnection(server.url, server.api_secret if secret is None else secret, options)
        connection.start()
        opened.append(connection)
        return connection

    yield connect
    for connection in opened:
        await connection.close()
