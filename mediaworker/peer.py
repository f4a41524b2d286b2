"""The worker's side of one browser in a recorded mesh: an aiortc peer connection that only receives.

Each incoming track is written by the person's `PersonTracks` as frames arrive. The
connection closes itself on `failed`; `close()` stops everything it started (writes,
the connection) and is safe to call twice.
"""

import logging
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from mediaworker.tracks import PersonTracks
from mediaworker.writer import TrackWriter

log = logging.getLogger(__name__)


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

    def __init__(self, peer_id: str, tracks: PersonTracks, on_gone: Callable[[str], None]) -> None:
        self.peer_id = peer_id
        self.pc = RTCPeerConnection()
        self.log_prefix = f"[worker {peer_id}]"
        self.tracks = tracks
        self._on_gone = on_gone
        self.closed = False
        self.pc.on("track", self._receive_track)
        self.pc.on("connectionstatechange", self._connection_changed)

    @property
    def writers(self) -> list[TrackWriter]:
        return self.tracks.writers

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
        await self.tracks.close()
        await self.pc.close()
        log.info("%s closed (%d track files)", self.log_prefix, sum(w.opened for w in self.writers))

    def _receive_track(self, track: MediaStreamTrack) -> None:
        self.tracks.record(track)

    async def _connection_changed(self) -> None:
        state = self.pc.connectionState
        log.info("%s connection %s", self.log_prefix, state)
        if state in ("failed", "closed") and not self.closed:
            self._on_gone(self.peer_id)
