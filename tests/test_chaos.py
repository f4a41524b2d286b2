"""The chaos tool's short run holds every invariant, and what it found stays fixed.

`python -m bench.chaos --short` starts its own redis-server, PostgreSQL database, two web
processes and a media worker, and injects every kind of fault; see docs/reliability.md.
"""

import json
import random
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest
import websockets

from bench.chaos_clients import Ledger, Participant, World
from bench.chaos_cluster import RoomSpec
from tests.live_server import ROOT, AppServer
from tests.test_multiprocess import database, join, login, open_socket, redis_server, servers  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_the_short_chaos_run_holds_every_invariant():
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--short", "--seed", "13"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "invariants: all held" in output
    result = json.loads(output.strip().splitlines()[-1])
    assert all(result["invariants"].values()), result["invariants"]
    assert len(result["invariants"]) == 11
    # Every kind of fault happened, people came and went, and chat reached who was there.
    for kind in ("kill9_web", "sigterm_web", "redis_restart", "postgres_terminate", "worker_kill"):
        assert result["faults"].get(kind, 0) >= 1, result["faults"]
    assert result["counts"]["joins"] >= 120
    assert result["counts"]["resumed_joins"] > 0  # drops were resumed under the old peer id
    assert result["chat"]["deliveries_checked"] > 0
    assert result["chat"]["deliveries_missed"] == 0
    assert result["recovery_s"]["not_back"] == 0
    assert result["memory"]["samples_used"] > 0  # web-a's memory was followed (judged in long runs)


def test_a_participant_refused_after_the_faults_opens_another_room_without_its_old_token():
    """Found in the short run (a "12 s old resume token not honoured"): after the faults stop, a
    participant refused on its way back (`room_full`, `relay_unavailable`) tries another room,
    and it presented the token of the room it had been in. The server rightly ignores another
    room's token (signaling/resume.py); a browser never sends one (a token belongs to its page).
    Only a reconnection to the token's own room may expect `resumed: true`."""
    rooms = [RoomSpec("room0", 8), RoomSpec("room1", 8), RoomSpec("relay0", 4, relay=True)]
    world = World([8000], rooms, Ledger(), phase="calm")
    person = Participant(7, "cookie", rooms[2], world, random.Random(13))  # noqa: S311 - a seeded simulation
    person.token, person.token_at, person.token_room = "relay0-token", time.monotonic() - 12, "relay0"
    assert person.resume_query("relay0") == "?resume=relay0-token"
    assert person.after("dropped") < 1  # a drop: back to the same room, with the token
    assert (person.room, person.resume_query("relay0")) == ("relay0", "?resume=relay0-token")

    person.after("refused")  # it tries a room picked at random (maybe relay0 again) as a new page

    assert person.token == ""
    assert [person.resume_query(room.slug) for room in rooms] == ["", "", ""]


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
