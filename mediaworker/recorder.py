"""Recording one room: each person's tracks into files, by whichever path their media takes.

In a mesh the worker offers each browser a receive-only connection of its own
(`BrowserPeer`, as the reserved peer `server`). While the room's media goes through the
relay (a `relay` room, or an `auto` room above its threshold) the worker already receives
every upload, and the browser's one link to `server` is the relay's: the recording then
writes a copy of each upload (`RelaySession.subscribe`) instead. An `auto` room that
switches path mid-recording goes on with new files beside the old ones (names never repeat).
"""

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiortc import MediaStreamTrack
from channels.db import database_sync_to_async

from mediaworker import selectors, services
from mediaworker.capacity import Budget
from mediaworker.models import Recording
from mediaworker.peer import BrowserPeer
from mediaworker.relay import RelaySession
from mediaworker.tracks import PersonTracks
from signaling import protocol
from signaling.presence import Peer

log = logging.getLogger(__name__)

# Puts a rendered message on a browser's channel.
Sender = Callable[[str, str], Awaitable[None]]


class RoomSession:
    """One room being recorded: a connection per browser (mesh), or copies of the relay's uploads."""

    def __init__(
        self,
        slug: str,
        recording: Recording,
        send: Sender,
        budget: Budget,
        later: Callable[[Any], None],
    ) -> None:
        self.slug = slug
        self.recording_id = recording.pk
        self.directory = selectors.recording_directory(recording)
        self.kinds = ["audio"] if recording.room.audio_only else ["audio", "video"]
        self.started = time.monotonic()
        self.peers: dict[str, BrowserPeer] = {}  # mesh: the worker's own connection to each browser
        self.tapped: dict[str, PersonTracks] = {}  # relay: each person's uploads, copied
        self.relay: RelaySession | None = None
        self.channels: dict[str, str] = {}
        self._send_text = send
        self._budget = budget
        self._later = later
        self._file_numbers = itertools.count()
        self._finishing: set[asyncio.Task[None]] = set()  # connections and files being closed

    def stream_count(self) -> int:
        """Streams the recording costs the worker: what it receives for itself, and every file written."""
        relayed = sum(tracks.writing for tracks in self.tapped.values())
        return len(self.kinds) * len(self.peers) + relayed

    def expected_streams(self, people: int) -> int:
        """What recording `people` costs the worker: a stream per kind each."""
        return len(self.kinds) * people

    async def connect(self, peer: Peer) -> None:
        """In a mesh, offer to receive `peer`'s media (unless connected, or the worker is full);
        while relayed, nothing: the relay's uploads are recorded as they arrive."""
        if self.relay is not None or peer.peer_id in self.peers:
            return
        short = self._budget(len(self.kinds))
        if short is not None:
            log.warning(
                "room %s: not recording %s, at the %s's limit (%d)", self.slug, peer.peer_id, short.scope, short.limit
            )
            return
        browser = BrowserPeer(
            peer.peer_id,
            self._person(peer.peer_id, peer.name, f"[worker {peer.peer_id}]"),
            on_gone=lambda peer_id: self._later(self._drop_browser(peer_id)),
        )
        self.peers[peer.peer_id], self.channels[peer.peer_id] = browser, peer.channel_name
        sdp = await browser.make_offer(self.kinds)
        await self._send(peer.peer_id, protocol.SessionDescription(type="offer", to=peer.peer_id, sdp=sdp))

    def record_upload(self, peer_id: str, name: str, track: MediaStreamTrack) -> None:
        """An upload the relay receives: write a copy of it."""
        if self.relay is None:
            return
        tracks = self.tapped.get(peer_id)
        if tracks is None:
            tracks = self.tapped[peer_id] = self._person(peer_id, name, f"[recording {peer_id}]")
        tracks.record(self.relay.subscribe(track))

    async def use_relay(self, relay: RelaySession) -> None:
        """The room's media now goes through `relay`: close the mesh connections, copy its uploads."""
        self.relay, relay.recorder = relay, self
        await asyncio.gather(*(self._drop_browser(peer_id) for peer_id in list(self.peers)), return_exceptions=True)
        for link, track in relay.uploads():
            self.record_upload(link.peer_id, link.name, track)

    async def use_mesh(self, members: list[Peer]) -> None:
        """The relay stopped (an `auto` room shrank): its copies end; offer each browser a connection."""
        self.relay = None
        await self._close_tapped()
        for peer in members:
            await self.connect(peer)

    async def signal(self, sender: str, message: dict[str, Any]) -> None:
        """An answer, offer or ICE candidate from browser `sender` (mesh recording)."""
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
        """`peer_id` left: their files are finished in the background (the writer may lag behind)."""
        tracks = self.tapped.pop(peer_id, None)
        if tracks is not None:
            self._finish(tracks.close())
        await self._drop_browser(peer_id)

    def detach(self) -> None:
        """Copy no further uploads (the recording is stopping)."""
        if self.relay is not None and self.relay.recorder is self:
            self.relay.recorder = None
        self.relay = None

    async def stop(self) -> None:
        """Close every connection and finish every file (each within `tracks.DRAIN_SECONDS`)."""
        self.detach()
        for peer_id in {*self.peers, *self.tapped}:
            await self.drop(peer_id)
        await asyncio.gather(*self._finishing, return_exceptions=True)

    async def _drop_browser(self, peer_id: str) -> None:
        browser = self.peers.pop(peer_id, None)
        self.channels.pop(peer_id, None)
        if browser is not None:
            self._finish(browser.close())

    async def _close_tapped(self) -> None:
        for peer_id in list(self.tapped):
            await self.drop(peer_id)

    def _finish(self, closing: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(closing)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _person(self, peer_id: str, name: str, log_prefix: str) -> PersonTracks:
        return PersonTracks(
            log_prefix,
            track_path=lambda kind: self.directory / f"{peer_id}-{kind}-{next(self._file_numbers)}.mkv",
            on_track_opened=lambda kind, path, arrived: self._track_opened(peer_id, name, kind, path, arrived),
            on_track_closed=self._track_closed,
        )

    async def _send(self, peer_id: str, message: protocol.SessionDescription) -> None:
        await self._send_text(self.channels[peer_id], protocol.render_signal(message, protocol.SERVER_PEER_ID))

    async def _track_opened(self, peer_id: str, name: str, kind: str, path: Path, arrived: float) -> int:
        track_id: int = await database_sync_to_async(services.open_track)(
            self.recording_id, peer_id, name, kind, path, arrived - self.started
        )
        return track_id

    async def _track_closed(self, track_id: int, last: float) -> None:
        await database_sync_to_async(services.close_track)(track_id, last - self.started)
