"""Joining a knock room leaks nothing: a waiting connection joins the room's group only once a
moderator lets it in, so it hears none of what the room says while the server decides.

The server decides in one database hop; the test holds a lock on a table that hop reads, so
mallory's join sits in the middle of its admission while alice, inside, changes her media state."""

import asyncio
import time
from typing import Any

import psycopg
import pytest
from django.db import connection

from accounts.models import User
from moderation.tests.conftest import make_room
from moderation.tests.test_moderation import people_in
from signaling.tests.conftest import Connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _conninfo() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None, host=db["HOST"], port=db["PORT"] or None
    )


async def _someone_waits_for_the_lock(lock: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while True:
        cursor = await lock.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        if (await cursor.fetchone())[0] > 0:
            return
        assert time.monotonic() < deadline, "mallory's join never reached the database"
        await asyncio.sleep(0.02)


async def test_a_knocking_connection_hears_nothing_said_during_its_own_admission(
    connect: Connect, alice: User, mallory: User
):
    await make_room("standup", alice, knock=True)
    (alice_ws,) = await people_in(connect, alice)
    state = {"type": "media-state", "audio": False, "video": True, "hand": True, "screen": None}

    async with await psycopg.AsyncConnection.connect(_conninfo()) as lock:
        await lock.execute("LOCK TABLE chat_chatmessage IN ACCESS EXCLUSIVE MODE")
        mallory_ws = await connect(mallory)
        await _someone_waits_for_the_lock(lock)
        await alice_ws.send(state)  # said while mallory's admission is being decided
        assert (await alice_ws.receive())["type"] == "media-state"
        await lock.rollback()

    assert (await mallory_ws.receive())["type"] == "waiting", "the first thing she hears is that she waits"
    assert (await alice_ws.receive())["type"] == "knocking"
    assert await mallory_ws.ws.receive_nothing(), "and nothing of the room after it"
