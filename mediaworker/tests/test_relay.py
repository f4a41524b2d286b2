"""Relay rooms through the real room socket: aiortc plays the browsers, the worker forwards."""

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from aiortc import MediaStreamTrack, RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av.video.frame import VideoFrame
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

from accounts.models import User
from mediaworker import dispatch
from mediaworker.tests.conftest import poll
from mediaworker.worker import MediaWorker
from rooms.models import Room, RoomMode
from signaling.tests.conftest import Browser, Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


class RelayCaller:
    """A browser in a relay room: one aiortc connection to `server` that sends test media
    and counts the frames it decodes from each other person (by `relay-tracks`)."""

    def __init__(
        self, browser: Browser, video: bool = True, camera: Callable[[], MediaStreamTrack] = VideoStreamTrack
    ) -> None:
        self.browser = browser
        self.video = video
        self.camera = camera
        self.messages: list[dict[str, Any]] = []
        # Browsers bundle every track on one transport, as the worker asks (max-bundle).
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.owners: dict[str, str] = {}
        self.upload: list[str] = []
        self.frames: Counter[tuple[str, str]] = Counter()  # (owner, kind) -> frames decoded
        self.widths: dict[str, int] = {}
        self._tasks = [asyncio.get_running_loop().create_task(self._pump())]
        self.pc.on("track", self._read)

    @property
    def peer_id(self) -> str:
        return self.browser.peer_id

    def got(self, **fields: Any) -> bool:
        return any(all(message.get(k) == v for k, v in fields.items()) for message in self.messages)

    def frames_from(self, other: "RelayCaller", kind: str) -> int:
        return self.frames[(other.peer_id, kind)]

    async def _pump(self) -> None:
        while True:
            message = json.loads(await self.browser.ws.receive_from(timeout=3600))
            self.messages.append(message)
            if message["type"] == "relay-tracks":
                self.owners, self.upload = message["tracks"], message["upload"]
            elif message["type"] == "offer" and message["from"] == "server":
                await self._answer(message["sdp"])

    async def _answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid in self.upload and transceiver.sender.track is None:
                if transceiver.kind == "audio":
                    transceiver.sender.replaceTrack(AudioStreamTrack())
                elif self.video:
                    transceiver.sender.replaceTrack(self.camera())
                transceiver.direction = "sendonly"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.browser.send({"type": "answer", "to": "server", "sdp": self.pc.localDescription.sdp})

    def _read(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        self._tasks.append(asyncio.get_running_loop().create_task(self._count(str(transceiver.mid), track)))

    async def _count(self, mid: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                owner = self.owners.get(mid)  # a reused transceiver carries its current owner
                if owner is not None:
                    self.frames[(owner, track.kind)] += 1
                    if isinstance(frame, VideoFrame):
                        self.widths[owner] = frame.width
        except MediaStreamError:
            pass

    async def hang_up(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
        await self.browser.ws.disconnect()


@pytest.fixture
def relay_room(room: Room) -> Room:
    room.mode = RoomMode.RELAY
    room.save(update_fields=["mode"])
    return room


@pytest.fixture
def audio_relay_room(relay_room: Room) -> Room:
    relay_room.audio_only = True
    relay_room.save(update_fields=["audio_only"])
    return relay_room


@pytest.fixture
def auto_audio_room(settings: Any, audio_relay_room: Room) -> Room:
    """An audio-only `auto` room that moves to the relay above two people."""
    settings.RELAY_AUTO_ABOVE_AUDIO = 2
    audio_relay_room.mode = RoomMode.AUTO
    audio_relay_room.save(update_fields=["mode"])
    return audio_relay_room


def running_worker() -> MediaWorker:
    worker = dispatch.embedded_worker()
    assert worker is not None
    return worker


async def frames_grow(caller: RelayCaller, other: RelayCaller, kind: str, by: int = 10, timeout: float = 30) -> None:
    """`caller` keeps decoding `other`'s `kind`: `by` more frames arrive (not just old ones)."""
    start = caller.frames_from(other, kind)
    await poll(lambda: caller.frames_from(other, kind) >= start + by, timeout=timeout)


@pytest.mark.embedded_only
async def test_alice_and_bob_see_and_hear_each_other_through_the_relay(
    connect: Connect, alice: User, bob: User, relay_room: Room
) -> None:
    alice_call = RelayCaller(await enter(connect, alice))
    bob_browser = await connect(bob)
    welcome = await bob_browser.join()
    assert welcome["room"]["mode"] == "relay"
    bob_call = RelayCaller(bob_browser)
    try:
        for caller, other in ((alice_call, bob_call), (bob_call, alice_call)):
            await frames_grow(caller, other, "video")
            await frames_grow(caller, other, "audio")
            assert caller.widths[other.peer_id] > 0
        relay = running_worker().relays["standup"]
        assert set(relay.links) == {alice_call.peer_id, bob_call.peer_id}
        # Each sends once and receives once per kind: 2 uploads + 2 copies, times audio and video.
        assert relay.stream_count() == 8
    finally:
        await alice_call.hang_up()
        await bob_call.hang_up()


@pytest.mark.embedded_only
async def test_the_relay_adds_and_removes_people_and_closes_what_it_no_longer_needs(
    connect: Connect, alice: User, bob: User, carol: User, audio_relay_room: Room
) -> None:
    alice_call = RelayCaller(await enter(connect, alice), video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    carol_call: RelayCaller | None = None
    try:
        await frames_grow(alice_call, bob_call, "audio")
        relay = running_worker().relays["standup"]
        bob_link = relay.links[bob_call.peer_id]

        carol_call = RelayCaller(await enter(connect, carol), video=False)
        # Alice's link is renegotiated: she now hears Carol too, and Carol hears both.
        await frames_grow(alice_call, carol_call, "audio")
        await frames_grow(carol_call, alice_call, "audio")
        await frames_grow(carol_call, bob_call, "audio")
        assert relay.stream_count() == 3 + 6

        await bob_call.hang_up()
        # The worker closes Bob's link and stops sending his (now silent) tracks to the others.
        await poll(lambda: bob_call.peer_id not in relay.links)
        await poll(lambda: bob_link.pc.connectionState == "closed")
        await poll(lambda: relay.stream_count() == 2 + 2)
        await poll(lambda: bob_call.peer_id not in alice_call.owners.values())
        await frames_grow(alice_call, carol_call, "audio")

        # Bob comes back: a freed transceiver is reused, and the call carries on.
        bob_call = RelayCaller(await enter(connect, bob), video=False)
        await frames_grow(alice_call, bob_call, "audio")
        await frames_grow(bob_call, carol_call, "audio")
        assert len(alice_call.pc.getTransceivers()) == 3  # her upload and two forwarded, none added
    finally:
        links = list(running_worker().relays["standup"].links.values())
        for caller in (alice_call, bob_call, carol_call):
            if caller is not None:
                await caller.hang_up()
    # Everyone left: the room is let go of and every connection is closed.
    worker = running_worker()
    await poll(lambda: "standup" not in worker.relays)
    assert worker.stream_count() == 0
    assert all(link.closed and link.pc.connectionState == "closed" for link in links)


def offers(call: RelayCaller) -> int:
    return sum(message["type"] == "offer" for message in call.messages)


async def inbox_nobody_reads() -> str:
    """A reply channel as a killed web process leaves it: full of the room's messages, never read."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    for _ in range(10_000):
        try:
            await layer.send(channel, {"type": "peer.signal", "text": "{}"})
        except ChannelFull:
            return channel
    raise AssertionError("the channel layer never said the channel was full")


@pytest.mark.embedded_only
async def test_a_relay_asked_for_by_a_web_process_now_gone_still_reaches_everyone_in_the_room(
    connect: Connect, alice: User, bob: User, audio_relay_room: Room
) -> None:
    """The chaos run saw it: the worker's answer to a killed process raised ChannelFull, and the
    room's relay was left set up but never offered to the people already in it."""
    alice_call = RelayCaller(await enter(connect, alice), video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    try:
        await frames_grow(alice_call, bob_call, "audio")
        worker = running_worker()
        await worker.stop_relay("standup")  # the room as a restarted worker finds it: not relayed
        offers_before = {call: offers(call) for call in (alice_call, bob_call)}

        event = {"type": "worker.relay", "slug": "standup", "audio_only": True, "reply": await inbox_nobody_reads()}
        await worker.handle(event)

        await poll(lambda: set(worker.relays["standup"].links) == {alice_call.peer_id, bob_call.peer_id})
        # Both are offered the new relay's connection.
        await poll(lambda: all(offers(call) > before for call, before in offers_before.items()))
    finally:
        await alice_call.hang_up()
        await bob_call.hang_up()


@pytest.mark.embedded_only
async def test_a_full_relay_refuses_newcomers_with_a_clear_message(
    connect: Connect, settings: Any, alice: User, bob: User, carol: User, audio_relay_room: Room
) -> None:
    # Alice costs 1 stream, Bob 1 + 2 (his upload, his copy to Alice, hers to him): 4 in all.
    settings.MEDIAWORKER_MAX_STREAMS = 4
    settings.MEDIAWORKER_ROOM_SHARE = settings.MEDIAWORKER_OWNER_SHARE = 1.0  # the worker's own limit
    alice_call = RelayCaller(await enter(connect, alice), video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    carol_call = RelayCaller(await enter(connect, carol), video=False)
    try:
        await frames_grow(alice_call, bob_call, "audio")
        await poll(lambda: carol_call.got(type="error", code="relay_full"))
        error = next(m for m in carol_call.messages if m.get("code") == "relay_full")
        assert "full (4 streams)" in error["message"]
        assert not carol_call.got(type="offer")
        # The two already in the call are not degraded: they still hear each other.
        await frames_grow(bob_call, alice_call, "audio")
        assert running_worker().stream_count() == 4
    finally:
        for caller in (alice_call, bob_call, carol_call):
            await caller.hang_up()


@pytest.mark.embedded_only
async def test_an_auto_room_moves_to_the_relay_when_it_grows_and_back_when_it_shrinks(
    connect: Connect, alice: User, bob: User, carol: User, auto_audio_room: Room
) -> None:
    alice_browser = await connect(alice)
    assert (await alice_browser.join())["room"]["active_mode"] == "mesh"
    alice_call = RelayCaller(alice_browser, video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    assert dispatch.embedded_worker() is None, "two people: a mesh, no worker needed"

    carol_browser = await connect(carol)
    welcome = await carol_browser.join()
    assert (welcome["room"]["mode"], welcome["room"]["active_mode"]) == ("auto", "relay")
    carol_call = RelayCaller(carol_browser, video=False)
    worker = running_worker()
    try:
        # Three is above the threshold: everyone is told, and the worker carries the media.
        for caller in (alice_call, bob_call):
            await poll(partial(caller.got, type="media-mode", mode="relay"))
        await frames_grow(alice_call, carol_call, "audio")
        await frames_grow(carol_call, bob_call, "audio")
        links = list(worker.relays["standup"].links.values())
        assert len(links) == 3

        await carol_call.hang_up()
        # Back to two: a mesh again, and the worker lets go of every connection.
        for caller in (alice_call, bob_call):
            await poll(partial(caller.got, type="media-mode", mode="mesh"))
        await poll(lambda: "standup" not in worker.relays)
        await poll(lambda: all(link.closed and link.pc.connectionState == "closed" for link in links))
        assert worker.stream_count() == 0
    finally:
        for caller in (alice_call, bob_call, carol_call):
            await caller.hang_up()
