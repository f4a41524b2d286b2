"""The media worker: aiortc peers that record or relay rooms, driven through the channel layer.

It listens on `CONTROL_CHANNEL` (a room to start, taken by whichever worker gets it) and
on its own channel (signals from browsers, stop). While it serves a room it holds the
room's lease and sits in the room's group, so it hears `room.peer_joined`/`peer_left`
like any consumer and offers to newcomers. Embedded (no REDIS_URL) it is a task in
the web process's loop (`dispatch.ensure_embedded_worker`); otherwise the
`manage.py mediaworker` process.
"""

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from mediaworker import metrics, selectors, services
from mediaworker.lease import get_leases
from mediaworker.models import Recording
from mediaworker.peer import BrowserPeer
from mediaworker.relay import RelaySession
from signaling import protocol
from signaling import services as signaling_services
from signaling.presence import Peer, get_presence

log = logging.getLogger(__name__)
CONTROL_CHANNEL = "mediaworker.control"


class RoomSession:
    """One room being recorded: a peer connection per browser in it."""

    def __init__(self, worker: "MediaWorker", slug: str, recording: Recording) -> None:
        self.worker = worker
        self.slug = slug
        self.recording_id = recording.pk
        self.directory = selectors.recording_directory(recording)
        self.kinds = ["audio"] if recording.room.audio_only else ["audio", "video"]
        self.started = time.monotonic()
        self.peers: dict[str, BrowserPeer] = {}
        self.channels: dict[str, str] = {}

    async def connect(self, peer: Peer) -> None:
        """Offer to receive `peer`'s media, unless already connected or the worker is full."""
        if peer.peer_id in self.peers:
            return
        if self.worker.stream_count() + len(self.kinds) > settings.MEDIAWORKER_MAX_STREAMS:
            log.warning("room %s: not recording %s, worker at MEDIAWORKER_MAX_STREAMS", self.slug, peer.peer_id)
            return
        browser = BrowserPeer(
            peer.peer_id,
            peer.name,
            self.directory,
            on_track_opened=lambda kind, path: self._track_opened(peer, kind, path),
            on_track_closed=self._track_closed,
            on_gone=lambda peer_id: self.worker.later(self.drop(peer_id)),
        )
        self.peers[peer.peer_id], self.channels[peer.peer_id] = browser, peer.channel_name
        sdp = await browser.make_offer(self.kinds)
        await self._send(peer.peer_id, protocol.SessionDescription(type="offer", to=peer.peer_id, sdp=sdp))

    async def signal(self, sender: str, message: dict[str, Any]) -> None:
        """An answer, offer or ICE candidate from browser `sender`."""
        browser = self.peers.get(sender)
        if browser is None or browser.closed:
            return
        if message["type"] == "answer":
            await browser.accept_answer(message["sdp"])
        elif message["type"] == "offer":
            sdp = await browser.accept_offer(message["sdp"])
            await self._send(sender, protocol.SessionDescription(type="answer", to=sender, sdp=sdp))
        elif message["type"] == "ice":
            await browser.add_candidate(message.get("candidate"))

    async def drop(self, peer_id: str) -> None:
        browser = self.peers.pop(peer_id, None)
        self.channels.pop(peer_id, None)
        if browser is not None:
            await browser.close()

    async def stop(self) -> None:
        await asyncio.gather(*(self.drop(peer_id) for peer_id in list(self.peers)), return_exceptions=True)

    async def _send(self, peer_id: str, message: protocol.SessionDescription) -> None:
        text = protocol.render_signal(message, protocol.SERVER_PEER_ID)
        await self.worker.layer.send(self.channels[peer_id], {"type": "peer.signal", "text": text})

    async def _track_opened(self, peer: Peer, kind: str, path: Path) -> int:
        offset = time.monotonic() - self.started
        track_id: int = await database_sync_to_async(services.open_track)(
            self.recording_id, peer.peer_id, peer.name, kind, path, offset
        )
        return track_id

    async def _track_closed(self, track_id: int) -> None:
        await database_sync_to_async(services.close_track)(track_id, time.monotonic() - self.started)


class MediaWorker:
    """Records rooms on request; `run()` until cancelled, then everything is closed."""

    def __init__(self) -> None:
        layer = get_channel_layer()
        assert layer is not None
        self.layer = layer
        self.channel = ""
        self.sessions: dict[str, RoomSession] = {}
        self.relays: dict[str, RelaySession] = {}
        self._background: set[asyncio.Task[Any]] = set()
        metrics.WORKER_STREAMS.set_function(self.stream_count)

    def stream_count(self) -> int:
        recorded = sum(len(session.kinds) * len(session.peers) for session in self.sessions.values())
        return recorded + sum(relay.stream_count() for relay in self.relays.values())

    def capacity_left(self) -> int:
        return int(settings.MEDIAWORKER_MAX_STREAMS) - self.stream_count()

    def later(self, work: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self) -> None:
        """Wait for work started in the background (composites) to end."""
        await asyncio.gather(*self._background, return_exceptions=True)

    async def run(self) -> None:
        self.channel = await self.layer.new_channel("mediaworker.")
        log.info("media worker listening on %s and %s", CONTROL_CHANNEL, self.channel)
        try:
            await asyncio.gather(self._listen(CONTROL_CHANNEL), self._listen(self.channel), self._renew_leases())
        finally:
            await asyncio.shield(self.shutdown())

    async def shutdown(self) -> None:
        """Stop every room this worker holds (recordings' composites still get made)."""
        for slug in [*self.sessions, *self.relays]:
            await self.stop_room(slug)

    async def _listen(self, channel: str) -> None:
        while True:
            event = await self.layer.receive(channel)
            try:
                await self.handle(event)
            except Exception:
                log.exception("media worker: %s failed", event.get("type"))

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(settings.MEDIAWORKER_LEASE_SECONDS / 3)
            for slug in [*self.sessions, *self.relays]:
                await get_leases().renew(slug, self.channel)
            for slug in [slug for slug, relay in self.relays.items() if relay.idle()]:
                await self.stop_room(slug)  # its pairs were refused, or their links failed

    async def handle(self, event: dict[str, Any]) -> None:
        kind, slug = event.get("type"), event.get("slug", "")
        if kind == "worker.start":
            await self.start_room(slug, int(event["recording_id"]))
            return
        if kind == "worker.relay":
            await self.start_relay(slug, bool(event["audio_only"]))
            return
        if kind == "worker.fallback":
            await self.relay_pair(event, slug, event["pair"])
            return
        session: RoomSession | RelaySession | None = self.sessions.get(slug) or self.relays.get(slug)
        if session is None:
            return
        if kind == "worker.signal":
            await session.signal(event["from"], json.loads(event["text"]))
        elif kind == "room.peer_joined":
            peer = await get_presence().find(slug, event["peer_id"])
            if peer is not None:
                await session.connect(peer)
        elif kind == "room.peer_left":
            await session.drop(event["peer_id"])
            if (isinstance(session, RelaySession) and session.idle()) or not await get_presence().members(slug):
                await self.stop_room(slug)  # nobody left to record or relay to
        elif kind in ("worker.stop", "room.closed"):
            await self.stop_room(slug)

    async def start_room(self, slug: str, recording_id: int) -> None:
        if slug in self.sessions or slug in self.relays or not await get_leases().acquire(slug, self.channel):
            return
        recording = await database_sync_to_async(_running_recording)(recording_id)
        if recording is None:
            await get_leases().release(slug, self.channel)
            return
        session = self.sessions[slug] = RoomSession(self, slug, recording)
        log.info("recording room %s (recording %s)", slug, recording_id)
        await self._join_room(slug, session)

    async def start_relay(self, slug: str, audio_only: bool) -> None:
        """Relay room `slug`'s media, unless this or another worker already does.

        Relaying some of its pairs (a mesh `auto` room that grew), relay everyone now."""
        if slug in self.relays:
            await self.relays[slug].relay_everyone(await get_presence().members(slug))
            return
        if slug in self.sessions or not await get_leases().acquire(slug, self.channel):
            return
        relay = self.relays[slug] = RelaySession(slug, audio_only, self._send_text, self.capacity_left)
        log.info("relaying room %s", slug)
        await self._join_room(slug, relay)

    async def relay_pair(self, event: dict[str, Any], slug: str, pair: list[str]) -> None:
        """A mesh room's pair whose direct connection failed: carry their media (`pair[0]` asked)."""
        first, second = [await get_presence().find(slug, peer_id) for peer_id in pair]
        if first is None or second is None:
            return  # one of them left meanwhile
        if slug in self.sessions:
            message = (
                f"The direct connection to {second.name} failed, and the relay cannot carry it "
                "while this room is being recorded. Ask the room's owner to stop recording, or try another network."
            )
            await self._send_text(first.channel_name, protocol.render_error("relay_unavailable", message))
            return
        relay = self.relays.get(slug)
        if relay is None:
            if not await get_leases().acquire(slug, self.channel):
                # Another worker serves the room (two requests raced on the control channel).
                holder = await get_leases().holder(slug)
                if holder is not None and holder != self.channel:
                    await self.layer.send(holder, event)
                return
            relay = self.relays[slug] = RelaySession(
                slug, bool(event["audio_only"]), self._send_text, self.capacity_left, pairs_only=True
            )
            log.info("relaying pairs of mesh room %s", slug)
            await self.layer.group_add(signaling_services.room_group(slug), self.channel)
        # Refused with no other pair to carry, the session stays idle until the next lease renewal:
        # the signaling waits to see a lease holder, and the other side's request is on its way.
        await relay.add_pair(first, second)

    async def _join_room(self, slug: str, session: RoomSession | RelaySession) -> None:
        # Into the group first, so nobody joining now is missed between the two steps.
        await self.layer.group_add(signaling_services.room_group(slug), self.channel)
        for peer in await get_presence().members(slug):
            await session.connect(peer)

    async def _send_text(self, channel: str, text: str) -> None:
        await self.layer.send(channel, {"type": "peer.signal", "text": text})

    async def stop_room(self, slug: str) -> None:
        """Close the room's peers and files and let go of the room; a recording then gets its composite."""
        session = self.sessions.pop(slug, None) or self.relays.pop(slug, None)
        if session is None:
            return
        await session.stop()
        await self.layer.group_discard(signaling_services.room_group(slug), self.channel)
        await get_leases().release(slug, self.channel)
        log.info("stopped serving room %s", slug)
        if isinstance(session, RoomSession):
            self.later(composite_in_background(session.recording_id))


def _running_recording(recording_id: int) -> Recording | None:
    return Recording.objects.select_related("room").filter(pk=recording_id, status=Recording.Status.RECORDING).first()


def _finish(recording_id: int) -> None:
    try:
        recording = Recording.objects.select_related("room").get(pk=recording_id)
        if recording.status == Recording.Status.RECORDING:
            services.stop_recording(recording.room)  # the room closed or emptied
        services.composite_recording(recording_id)
    finally:
        connections.close_all()  # this thread's own; the test database must be droppable


async def composite_in_background(recording_id: int) -> None:
    """ffmpeg in a thread of its own: minutes of CPU must not hold the shared sync thread."""
    await sync_to_async(_finish, thread_sensitive=False)(recording_id)
