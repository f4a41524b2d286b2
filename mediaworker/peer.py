"""The worker's side of one browser: an aiortc peer connection that only receives.

Each incoming track is written by a `TrackWriter` as frames arrive. The connection
closes itself on `failed`; `close()` stops everything it started (tasks, writers,
the connection) and is safe to call twice.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiortc import MediaStreamTrack, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

from mediaworker.writer import TrackWriter

log = logging.getLogger(__name__)

# Called once per track, at its first frame: (kind, file) -> an id to close it with later.
TrackOpened = Callable[[str, Path], Awaitable[int]]
TrackClosed = Callable[[int], Awaitable[None]]


def parse_candidate(candidate: dict[str, Any] | None) -> RTCIceCandidate | None:
    """A browser's trickled RTCIceCandidateInit for aiortc (None: end of candidates).

    aiortc gathers and sends its own candidates inside the SDP; only browsers trickle.
    """
    if not candidate or not candidate.get("candidate"):
        return None
    parsed = candidate_from_sdp(str(candidate["candidate"]).removeprefix("candidate:"))
    parsed.sdpMid = candidate.get("sdpMid")
    parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
    return parsed


class BrowserPeer:
    """One browser's media into the worker (recvonly), negotiated over signaling."""

    def __init__(
        self,
        peer_id: str,
        name: str,
        directory: Path,
        on_track_opened: TrackOpened,
        on_track_closed: TrackClosed,
        on_gone: Callable[[str], None],
    ) -> None:
        self.peer_id = peer_id
        self.name = name
        self.pc = RTCPeerConnection()
        self.log_prefix = f"[worker {peer_id}]"
        self._directory = directory
        self._opened = on_track_opened
        self._closed_cb = on_track_closed
        self._on_gone = on_gone
        self._tasks: set[asyncio.Task[None]] = set()
        self.writers: list[TrackWriter] = []
        self.closed = False
        self.pc.on("track", self._receive_track)
        self.pc.on("connectionstatechange", self._connection_changed)

    async def make_offer(self, kinds: list[str]) -> str:
        """An offer to receive `kinds` ("audio", "video") from the browser."""
        for kind in kinds:
            self.pc.addTransceiver(kind, direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def accept_offer(self, sdp: str) -> str:
        """A renegotiation the browser started (an ICE restart): answer it."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def add_candidate(self, candidate: dict[str, Any] | None) -> None:
        parsed = parse_candidate(candidate)
        if parsed is not None:
            await self.pc.addIceCandidate(parsed)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
        log.info("%s closed (%d track files)", self.log_prefix, sum(w.opened for w in self.writers))

    def _receive_track(self, track: MediaStreamTrack) -> None:
        log.info("%s receiving %s", self.log_prefix, track.kind)
        index = len(self.writers)
        writer = TrackWriter(self._directory / f"{self.peer_id}-{track.kind}-{index}.mkv", track.kind)
        self.writers.append(writer)
        task = asyncio.get_running_loop().create_task(self._write_track(track, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_track(self, track: MediaStreamTrack, writer: TrackWriter) -> None:
        track_id: int | None = None
        try:
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame | VideoFrame):
                    continue
                # Encoding is CPU work: a thread keeps the event loop (and signaling) responsive.
                await asyncio.to_thread(writer.write, frame)
                if track_id is None and writer.opened:
                    track_id = await self._opened(track.kind, writer.path)
        except MediaStreamError:
            pass
        except Exception:
            log.exception("%s writing %s failed", self.log_prefix, track.kind)
        finally:
            await asyncio.shield(self._finish_track(writer, track_id))

    async def _finish_track(self, writer: TrackWriter, track_id: int | None) -> None:
        await asyncio.to_thread(writer.close)
        if track_id is not None:
            await self._closed_cb(track_id)

    async def _connection_changed(self) -> None:
        state = self.pc.connectionState
        log.info("%s connection %s", self.log_prefix, state)
        if state in ("failed", "closed") and not self.closed:
            self._on_gone(self.peer_id)
