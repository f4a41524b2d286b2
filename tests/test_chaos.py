"""What the chaos tool (`python -m bench.chaos`, docs/reliability.md) found stays fixed.

The tool's short run is not part of this suite for now: after this session's merges it broke
an invariant in 2 of 5 runs (a traceback from a lost Redis connection once; a 12 s old resume
token not honoured once), whose causes are not found yet. It stays a tool that prints figures
until they are; docs/reliability.md lists both.
"""

from typing import Any

import psycopg
import pytest
import websockets

from tests.live_server import AppServer
from tests.test_multiprocess import database, join, login, open_socket, redis_server, servers  # noqa: F401

pytestmark = pytest.mark.slow


def terminate_connections(db_name: str) -> int:
    from tests.live_server import POSTGRES_ADMIN_URL

    query = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(query, (db_name,)).fetchone()
    return int(row[0]) if row else 0


async def test_bob_joins_after_the_database_connections_were_cut(
    servers: list[AppServer],  # noqa: F811
    database: Any,  # noqa: F811
    open_socket: Any,  # noqa: F811
):
    """Found by bench.chaos: pooled connections killed by PostgreSQL (restart, pg_terminate_backend)
    were handed to the next joins, which crashed with 1011 and a traceback."""
    a, _ = servers
    alice_cookie, bob_cookie = login(a, "alice"), login(a, "bob")
    alice, _ = await join(open_socket, a, alice_cookie)
    await alice.send({"type": "chat", "text": "before"})
    assert (await alice.receive_type("chat"))["text"] == "before"

    db, _ = database
    assert terminate_connections(db.name) >= 1

    bob, welcome = await join(open_socket, a, bob_cookie)
    assert [peer["peer_id"] for peer in welcome["peers"]] == [alice.peer_id]
    await alice.send({"type": "chat", "text": "after"})
    assert (await bob.receive_type("chat"))["text"] == "after"
    assert "Traceback" not in a.log_tail()


async def test_a_connection_whose_database_query_fails_closes_1012_and_leaves_the_room(
    servers: list[AppServer],  # noqa: F811
    database: Any,  # noqa: F811
    open_socket: Any,  # noqa: F811
):
    """A query cut mid-way (the connection dies under it) is a lost backend, not a crash: the
    browser gets `service_restarting` and reconnects, and nobody is left listed as a ghost."""
    a, b = servers
    alice, _ = await join(open_socket, a, login(a, "alice"))
    bob, _ = await join(open_socket, b, login(b, "bob"))
    db, _ = database
    # Every server connection to the database dies, and PostgreSQL refuses new ones for a moment.
    with psycopg.connect(db.url.replace(f"/{db.name}", "/postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{db.name}" WITH ALLOW_CONNECTIONS false')
        try:
            terminate_connections(db.name)
            await alice.send({"type": "chat", "text": "into the void"})
            error: dict[str, Any] = await alice.receive_type("error", timeout=25)
        finally:
            admin.execute(f'ALTER DATABASE "{db.name}" WITH ALLOW_CONNECTIONS true')

    assert error["code"] == "service_restarting"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await alice.receive(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    left = await bob.receive_type("peer-left", timeout=10)
    assert left == {"type": "peer-left", "peer_id": alice.peer_id, "resumable": True}
    assert "Traceback" not in a.log_tail()
