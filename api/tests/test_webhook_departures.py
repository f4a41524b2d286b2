"""A connection that drops is not a departure until its resume window closes (signaling/events.py).

bob's socket dies (no close frame) and he never comes back: once SIGNALING_RESUME_SECONDS have
passed, the receiver hears `participant.left`, and `room.ended` when he was the last. If he
comes back in time, the receiver hears nothing at all. Each departure is reported once, however
many processes look at it, and even when the one that took it dies before finishing.
"""

import asyncio
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from api.tests.test_webhooks import Receiver, endpoint, receiver, summary
from rooms.models import Room
from signaling import events, presence, redis_presence
from signaling.presence import Peer, get_presence
from signaling.tests.conftest import Connect, enter
from signaling.tests.test_resume import ABNORMAL, resuming

__all__ = ["endpoint", "receiver"]

pytestmark = pytest.mark.django_db(transaction=True)

# Seconds a dropped connection may come back (SIGNALING_RESUME_SECONDS). A resume token's age is
# counted in whole seconds (Django's signing), so a 1 s window could refuse a resume at once.
WINDOW = 2.0


@pytest.fixture(autouse=True)
def short_window(settings: Any) -> None:
    settings.SIGNALING_RESUME_SECONDS = WINDOW
    settings.PRESENCE_HEARTBEAT_SECONDS = 0.1  # how often each process looks for lapsed departures


async def delivered(receiver: Receiver, count: int, timeout: float = 20) -> None:
    """Send (as `manage.py deliverwebhooks` does) until `count` requests came in. One delivery
    per database hop: the chores' hops (queueing the events) take turns with them."""
    deadline = time.monotonic() + timeout
    while len(receiver.received) < count:
        assert time.monotonic() < deadline, f"only {len(receiver.received)} of {count} events came in time"
        if not await database_sync_to_async(webhooks.send_one)():
            await asyncio.sleep(0.05)


@database_sync_to_async
def queued(event: str) -> int:
    return WebhookDelivery.objects.filter(event=event).count()


async def test_a_dropped_connection_that_never_resumes_leaves_when_its_window_closes(
    connect: Connect, receiver: Receiver, endpoint: WebhookEndpoint, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined
    await bob_ws.ws.disconnect(code=ABNORMAL)
    assert await alice_ws.receive() == {"type": "peer-left", "peer_id": bob_ws.peer_id, "resumable": True}
    assert not await queued("participant.left"), "not yet: bob may come back"

    await delivered(receiver, 4)  # the window closes
    await alice_ws.ws.disconnect(code=ABNORMAL)
    await delivered(receiver, 6)

    assert summary(receiver.events()) == [
        ("room.started", "standup"),
        ("participant.joined", "Alice A."),
        ("participant.joined", "Bob B."),
        ("participant.left", "Bob B."),
        ("participant.left", "Alice A."),
        ("room.ended", "standup"),
    ]
    left = receiver.events()[3]["data"]
    assert left == {"room": "standup", "peer_id": bob_ws.peer_id, "name": "Bob B.", "guest": False}


async def test_coming_back_in_time_is_no_departure(
    connect: Connect, receiver: Receiver, endpoint: WebhookEndpoint, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await connect(bob)
    welcome = await bob_ws.join()
    await alice_ws.receive()
    await bob_ws.ws.disconnect(code=ABNORMAL)
    await alice_ws.receive()

    bob_again = await connect(bob, query=resuming(welcome["resume"]))
    assert (await bob_again.join())["resumed"] is True
    await asyncio.sleep(WINDOW * 2)  # well past the window: the chores ran many times meanwhile
    await bob_again.ws.disconnect(code=1000)
    await alice_ws.ws.disconnect(code=1000)
    await delivered(receiver, 6)

    assert [event for event, _ in summary(receiver.events())] == [
        "room.started",
        "participant.joined",
        "participant.joined",
        "participant.left",  # bob hanging up, not his dropped socket
        "participant.left",
        "room.ended",
    ]
    assert await get_presence().departing("standup") == 0


async def test_the_room_goes_on_while_someone_may_still_come_back(
    connect: Connect, receiver: Receiver, endpoint: WebhookEndpoint, alice: User, bob: User, room: Room
):
    """alice drops; bob, alone in the room, hangs up: the room has not ended until alice's window closes."""
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.ws.disconnect(code=ABNORMAL)
    await bob_ws.receive()
    await bob_ws.ws.disconnect(code=1000)

    await delivered(receiver, 6)
    assert summary(receiver.events())[3:] == [
        ("participant.left", "Bob B."),
        ("participant.left", "Alice A."),
        ("room.ended", "standup"),
    ]


def peer(peer_id: str, name: str) -> Peer:
    return Peer(peer_id=peer_id, name=name, user_id=1, channel_name=f"chan.{peer_id}", person="1")


async def test_each_departure_is_reported_once_however_many_processes_settle_it(
    receiver: Receiver, endpoint: WebhookEndpoint, room: Room, monkeypatch: pytest.MonkeyPatch
):
    """Four processes look for lapsed departures at the same moment; then one of them dies
    holding its claim, and another takes the departure over when the claim runs out."""
    monkeypatch.setattr(presence, "SETTLE_CLAIM_SECONDS", 0.2)
    monkeypatch.setattr(redis_presence, "SETTLE_CLAIM_SECONDS", 0.2)
    shared = get_presence()
    await shared.admit("standup", peer("bob-0000001", "Bob B."), capacity=8)
    await shared.leave("standup", "bob-0000001", resumable=True)
    await asyncio.sleep(WINDOW)

    await asyncio.gather(*(events.settle_departures() for _ in range(4)))
    await delivered(receiver, 2)
    assert summary(receiver.events()) == [("participant.left", "Bob B."), ("room.ended", "standup")]

    await shared.admit("standup", peer("cy-00000001", "Cy"), capacity=8)
    await shared.leave("standup", "cy-00000001", resumable=True)
    await asyncio.sleep(WINDOW)
    [claimed] = await shared.lapsed_departures()  # a process takes it, queues its events, and dies
    assert claimed.peer.name == "Cy" and claimed.others == 0
    dying_words = [("participant.left", {"room": "standup", "name": "Cy"}), ("room.ended", {"room": "standup"})]
    await webhooks.announce(*dying_words, once="departure standup cy-00000001")
    assert await shared.lapsed_departures() == [], "claimed: nobody else takes it meanwhile"
    await asyncio.sleep(0.3)
    await events.settle_departures()  # the claim ran out: another process reports it again

    await delivered(receiver, 4)
    assert (await queued("participant.left"), await queued("room.ended")) == (2, 2), "Cy's once, not twice"
    assert [name for _, name in summary(receiver.events())] == ["Bob B.", "standup", "Cy", "standup"]
    assert await shared.departing("standup") == 0 and await shared.lapsed_departures() == []


@pytest.mark.redis_only
async def test_the_peers_of_a_killed_process_leave_once_their_window_closes(
    receiver: Receiver, endpoint: WebhookEndpoint, room: Room, settings: Any
):
    """The process serving bob dies (kill -9: its leases stop being renewed); another process's
    sweep finds him gone, and he has the same window to come back as any dropped connection."""
    dead = redis_presence.RedisPresence(settings.REDIS_URL, ttl_seconds=0.1)
    await dead.admit("standup", peer("bob-0000001", "Bob B."), capacity=8)
    await dead.close()
    await asyncio.sleep(0.2)

    gone = await get_presence().sweep()
    assert [person.name for person in gone["standup"]] == ["Bob B."]
    assert await get_presence().departing("standup") == 1 and not await queued("participant.left")
    await asyncio.sleep(WINDOW)
    await events.settle_departures()

    await delivered(receiver, 2)
    assert summary(receiver.events()) == [("participant.left", "Bob B."), ("room.ended", "standup")]
