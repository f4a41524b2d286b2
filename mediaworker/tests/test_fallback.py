"""Mesh rooms' relay fallback: aiortc plays the browsers, the worker carries only the pairs
whose direct connection failed, each person getting only their partners' media."""

import contextlib
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from mediaworker import dispatch
from mediaworker.lease import get_leases
from mediaworker.relay import RelaySession
from mediaworker.tests.conftest import poll
from mediaworker.tests.test_relay import RelayCaller, frames_grow
from mediaworker.worker import MediaWorker
from rooms.models import Room, RoomMode
from signaling.tests.conftest import Connect, enter

# Like the relay's own tests (test_relay.py), these run on the embedded worker, without REDIS_URL.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded_only]


@pytest.fixture
def audio_room(room: Room) -> Room:
    room.audio_only = True
    room.save(update_fields=["audio_only"])
    return room


async def worker_relaying(slug: str = "standup") -> MediaWorker:
    """The embedded worker, once it relays something in `slug`."""

    def relaying() -> MediaWorker | None:
        worker = dispatch.embedded_worker()
        return worker if worker is not None and slug in worker.relays else None

    worker: MediaWorker = await poll(relaying)
    return worker


@contextlib.asynccontextmanager
async def in_standup(connect: Connect, *users: User, video: bool = True) -> AsyncIterator[list[RelayCaller]]:
    """Callers for `users`, arriving one after the other; all hang up at the end."""
    calls: list[RelayCaller] = []
    try:
        for user in users:
            calls.append(RelayCaller(await enter(connect, user), video=video))
        yield calls
    finally:
        for call in calls:
            await call.hang_up()


async def relayed_with(caller: RelayCaller, *partners: RelayCaller) -> RelaySession:
    """Once `caller` and each of `partners` hear each other through the worker: its session."""
    for partner in partners:
        await frames_grow(caller, partner, "audio")
        await frames_grow(partner, caller, "audio")
    return (await worker_relaying()).relays["standup"]


async def ask_fallback(caller: RelayCaller, partner: RelayCaller) -> None:
    await caller.browser.send({"type": "relay-fallback", "peer_id": partner.peer_id})


async def test_a_failed_pair_is_relayed_and_nobody_else(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
) -> None:
    async with in_standup(connect, alice, bob, carol) as (alice_call, bob_call, carol_call):
        await ask_fallback(alice_call, bob_call)
        # Both are told who they are relayed with, then get the worker's offer.
        await poll(partial(alice_call.got, type="relay-fallback", peer_id=bob_call.peer_id, **{"from": "server"}))
        await poll(partial(bob_call.got, type="relay-fallback", peer_id=alice_call.peer_id))
        for caller, other in ((alice_call, bob_call), (bob_call, alice_call)):
            await frames_grow(caller, other, "video")
            await frames_grow(caller, other, "audio")
        relay = (await worker_relaying()).relays["standup"]
        assert set(relay.links) == {alice_call.peer_id, bob_call.peer_id}
        assert relay.stream_count() == 8  # two uploads and two copies, audio and video
        # Carol still talks to them directly: the worker never offers her anything.
        assert not carol_call.got(type="offer") and not carol_call.got(type="relay-fallback")

        # Asking again (the other side's timer fired too) changes nothing.
        await ask_fallback(bob_call, alice_call)
        await frames_grow(alice_call, bob_call, "video")
        assert relay.stream_count() == 8


async def test_forwarding_follows_each_persons_partners_and_stops_when_they_leave(
    connect: Connect, alice: User, bob: User, carol: User, audio_room: Room
) -> None:
    async with in_standup(connect, alice, bob, carol, video=False) as (alice_call, bob_call, carol_call):
        await ask_fallback(alice_call, bob_call)
        await ask_fallback(carol_call, alice_call)
        relay = await relayed_with(alice_call, bob_call, carol_call)
        # Bob and Carol reach each other directly: neither gets the other's media from the worker.
        assert carol_call.peer_id not in bob_call.owners.values()
        assert bob_call.peer_id not in carol_call.owners.values()
        assert relay.partners(bob_call.peer_id) == {alice_call.peer_id}
        assert relay.stream_count() == 3 + 4  # three uploads; alice gets two copies, bob and carol one
        bob_link, carol_link = relay.links[bob_call.peer_id], relay.links[carol_call.peer_id]

        # Alice leaves: nobody is relayed with anyone, so every link closes and the room is let go.
        worker = await worker_relaying()
        await alice_call.hang_up()
        await poll(lambda: "standup" not in worker.relays)
        await poll(lambda: bob_link.pc.connectionState == "closed" and carol_link.pc.connectionState == "closed")
        assert worker.stream_count() == 0
        assert await get_leases().holder("standup") is None


async def test_one_partner_leaving_keeps_the_others_pair(
    connect: Connect, alice: User, bob: User, carol: User, audio_room: Room
) -> None:
    async with in_standup(connect, alice, bob, carol, video=False) as (alice_call, bob_call, carol_call):
        await ask_fallback(alice_call, bob_call)
        await ask_fallback(alice_call, carol_call)
        relay = await relayed_with(alice_call, bob_call, carol_call)
        bob_link = relay.links[bob_call.peer_id]

        await bob_call.hang_up()
        await poll(lambda: bob_call.peer_id not in relay.links and bob_link.pc.connectionState == "closed")
        await poll(lambda: bob_call.peer_id not in alice_call.owners.values())
        await frames_grow(alice_call, carol_call, "audio")
        await frames_grow(carol_call, alice_call, "audio")
        assert relay.stream_count() == 2 + 2


async def test_a_pair_the_worker_cannot_carry_is_refused_with_a_clear_message(
    connect: Connect, settings: Any, alice: User, bob: User, audio_room: Room
) -> None:
    # An audio pair costs 2 uploads + 2 copies.
    settings.MEDIAWORKER_MAX_STREAMS = 3
    settings.MEDIAWORKER_LEASE_SECONDS = 2  # renewed every 2/3 s
    async with in_standup(connect, alice, bob, video=False) as (alice_call, bob_call):
        await ask_fallback(alice_call, bob_call)
        await poll(partial(alice_call.got, type="error", code="relay_full"))
        error = next(m for m in alice_call.messages if m.get("code") == "relay_full")
        assert "Bob B." in error["message"] and "full (3 streams)" in error["message"]
        assert not bob_call.got(type="relay-fallback") and not bob_call.got(type="offer")
        assert not alice_call.got(type="offer")
        # Nothing to carry: no connection (the room is let go at the worker's next lease renewal).
        relay_worker = await worker_relaying()
        relay = relay_worker.relays["standup"]
        assert relay.idle() and relay.links == {} and relay.stream_count() == 0
        await ask_fallback(bob_call, alice_call)  # the other side asks too, and is told too
        await poll(partial(bob_call.got, type="error", code="relay_full"))
        await poll(lambda: "standup" not in relay_worker.relays)
        assert await get_leases().holder("standup") is None


async def test_an_auto_room_growing_into_the_relay_keeps_the_pairs_links_and_relays_everyone(
    connect: Connect, settings: Any, alice: User, bob: User, carol: User, audio_room: Room
) -> None:
    settings.RELAY_AUTO_ABOVE_AUDIO = 2
    audio_room.mode = RoomMode.AUTO
    await database_sync_to_async(audio_room.save)(update_fields=["mode"])
    async with in_standup(connect, alice, bob, video=False) as (alice_call, bob_call):
        await ask_fallback(alice_call, bob_call)
        await frames_grow(alice_call, bob_call, "audio")
        relay = (await worker_relaying()).relays["standup"]
        pair_links = dict(relay.links)

        async with in_standup(connect, carol, video=False) as (carol_call,):
            await poll(partial(alice_call.got, type="media-mode", mode="relay"))
            # Alice and Bob keep the link they had (their browsers keep that connection) and hear Carol on it.
            await frames_grow(alice_call, carol_call, "audio")
            await frames_grow(bob_call, carol_call, "audio")
            await frames_grow(carol_call, alice_call, "audio")
            await frames_grow(carol_call, bob_call, "audio")
            assert relay.pairs is None and relay is running_relay()
            assert all(relay.links[peer_id] is link for peer_id, link in pair_links.items())
            assert relay.stream_count() == 3 + 6


def running_relay() -> RelaySession:
    worker = dispatch.embedded_worker()
    assert worker is not None
    return worker.relays["standup"]


async def test_recording_and_relaying_pairs_do_not_share_a_room(
    connect: Connect, alice: User, bob: User, carol: User, audio_room: Room
) -> None:
    async with in_standup(connect, alice, bob, carol, video=False) as (alice_call, bob_call, carol_call):
        await ask_fallback(carol_call, bob_call)
        await relayed_with(carol_call, bob_call)

        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(partial(alice_call.got, type="error", code="recording_unavailable"))
        refusal = next(m for m in alice_call.messages if m.get("code") == "recording_unavailable")
        assert "relay carries connections" in refusal["message"]
        assert not any(caller.got(type="recording", active=True) for caller in (alice_call, bob_call, carol_call))
        await frames_grow(carol_call, bob_call, "audio")  # the relayed pair goes on


async def test_a_pair_in_a_recorded_room_is_refused_with_a_clear_message(
    connect: Connect, alice: User, bob: User, audio_room: Room
) -> None:
    async with in_standup(connect, alice, bob, video=False) as (alice_call, bob_call):
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(partial(bob_call.got, type="recording", active=True))

        await ask_fallback(bob_call, alice_call)

        await poll(partial(bob_call.got, type="error", code="relay_unavailable"))
        refusal = next(m for m in bob_call.messages if m.get("code") == "relay_unavailable")
        assert "Alice A. failed" in refusal["message"] and "being recorded" in refusal["message"]
        assert not alice_call.got(type="relay-fallback")
