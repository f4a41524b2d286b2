"""Relay mode (an SFU in aiortc): each browser sends its media once, the worker forwards it.

One `RelayLink` per browser: the worker always offers. The first transceivers (one per
kind, recvonly) carry the browser's upload; every other transceiver is sendonly and
forwards one other participant's track, shared with `MediaRelay`. Before each offer the
browser gets `relay-tracks` (mid -> owner peer id). When someone leaves, their
transceivers are emptied and set inactive (aiortc cannot remove m-lines) and reused for
the next joiner: each sends a `ForwardedTrack` whose source is switched, because an
aiortc sender stops for good once its track ends. A link renegotiates one offer at a time; a change while an offer is
out, or before the first connection is up, is offered once that is done (aiortc starts
the senders of a renegotiation only on a transport that is already connected).

In a mesh room the same session carries only the pairs whose direct connection failed
(`pairs_only`, docs/protocol.md "Relay fallback"): a browser gets a link when its first pair
is added, each upload is forwarded only to that person's partners, and a link is closed when
its last partner leaves.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av.frame import Frame
from av.packet import Packet

from mediaworker.capacity import Budget, pair_refusal, relay_refusal
from mediaworker.peer import parse_candidate
from signaling import protocol
from signaling.presence import Peer

log = logging.getLogger(__name__)


# Puts rendered text on a browser's channel (through the worker's channel layer).
Sender = Callable[[str, str], Awaitable[None]]


class UploadRecorder(Protocol):
    """A recording of the room (`recorder.RoomSession`): told of every upload the relay receives."""

    def record_upload(self, peer_id: str, name: str, track: MediaStreamTrack) -> None: ...


class ForwardedTrack(MediaStreamTrack):
    """What one sender sends: frames of its current source, which can be switched or emptied."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: MediaStreamTrack | None = None
        self._switched = asyncio.Event()

    def switch(self, source: MediaStreamTrack | None) -> None:
        """Forward `source` from now on (None: nothing); the old source is stopped."""
        old, self.source = self.source, source
        self._switched.set()
        if old is not None:
            old.stop()  # unsubscribes the proxy from the relay

    async def recv(self) -> Frame | Packet:
        while self.readyState == "live":
            source = self.source
            if source is None or source.readyState == "ended":
                self._switched.clear()
                await self._switched.wait()
                continue
            try:
                return await source.recv()
            except MediaStreamError:
                continue  # the owner left: wait for a new source
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self.switch(None)


class RelayLink:
    """The worker's side of one browser in a relay room."""

    def __init__(self, peer: Peer, kinds: list[str]) -> None:
        self.peer_id = peer.peer_id
        self.name = peer.name
        self.channel = peer.channel_name
        # One transport for every track, however many are added later.
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.log_prefix = f"[relay {peer.peer_id}]"
        self.uploads = [self.pc.addTransceiver(kind, direction="recvonly") for kind in kinds]
        self.incoming: dict[str, MediaStreamTrack] = {}
        # Forwarding transceivers and whose track each carries (None: free for reuse).
        self.owners: dict[RTCRtpTransceiver, str | None] = {}
        self.tracks: dict[RTCRtpTransceiver, ForwardedTrack] = {}
        self.pending = False
        self.answered = False
        # createOffer and setLocalDescription are two awaits: a second offer must not start between.
        self.offering = asyncio.Lock()
        self.closed = False

    def forwarded_streams(self) -> int:
        return sum(owner is not None for owner in self.owners.values())

    def forwards(self, owner: str, kind: str) -> bool:
        return any(who == owner and t.kind == kind for t, who in self.owners.items())

    def forward(self, owner: str, track: MediaStreamTrack) -> None:
        """Send `track` (a relay proxy of `owner`'s) to this browser, reusing a free transceiver."""
        free = next((t for t, who in self.owners.items() if who is None and t.kind == track.kind), None)
        if free is None:
            forwarded = ForwardedTrack(track.kind)
            free = self.pc.addTransceiver(forwarded, direction="sendonly")
            self.tracks[free] = forwarded
        self.tracks[free].switch(track)
        free.direction = "sendonly"
        self.owners[free] = owner

    def unforward(self, owner: str) -> bool:
        """Stop sending `owner`'s tracks; True if anything changed."""
        changed = False
        for transceiver, who in self.owners.items():
            if who != owner:
                continue
            self.tracks[transceiver].switch(None)
            transceiver.direction = "inactive"
            self.owners[transceiver] = None
            changed = True
        return changed

    def upload_mids(self) -> list[str]:
        return [str(t.mid) for t in self.uploads]

    def track_owners(self) -> dict[str, str]:
        return {str(t.mid): who for t, who in self.owners.items() if who is not None and t.mid is not None}

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for track in self.tracks.values():
            track.stop()
        await self.pc.close()
        log.info("%s closed", self.log_prefix)


class RelaySession:
    """One relay room: a link per browser, every upload forwarded to everyone else."""

    def __init__(
        self,
        slug: str,
        audio_only: bool,
        send: Sender,
        budget: Budget,
        pairs_only: bool = False,
    ) -> None:
        self.slug = slug
        self.kinds = ["audio"] if audio_only else ["audio", "video"]
        self.links: dict[str, RelayLink] = {}
        self.relay = MediaRelay()
        # The pairs relayed in a mesh room (their direct connection failed); None: everyone to everyone.
        self.pairs: set[frozenset[str]] | None = set() if pairs_only else None
        self._send_text = send
        self._budget = budget
        self._background: set[asyncio.Task[None]] = set()
        # While the room is recorded: each upload is also written (a copy from `self.relay`).
        self.recorder: UploadRecorder | None = None

    def relays_between(self, receiver: str, owner: str) -> bool:
        """Whether `owner`'s media goes to `receiver` through this session."""
        return receiver != owner and (self.pairs is None or frozenset((receiver, owner)) in self.pairs)

    def partners(self, peer_id: str) -> set[str]:
        """Whose media `peer_id` gets through this session (in a relay room: everyone else's)."""
        if self.pairs is None:
            return set(self.links) - {peer_id}
        return {other for pair in self.pairs if peer_id in pair for other in pair if other != peer_id}

    def idle(self) -> bool:
        """A mesh room's fallback with no pair left to carry: the worker can let the room go."""
        return self.pairs is not None and not self.pairs

    def stream_count(self) -> int:
        """Streams this room costs the worker: every upload received and every copy sent."""
        return sum(len(link.incoming) + link.forwarded_streams() for link in self.links.values())

    def cost_of_joining(self) -> int:
        """Streams one more person adds: their upload, their copy to each other, each other's copy to
        them, and while the room is recorded, their tracks' files."""
        recorded = 1 if self.recorder is not None else 0
        return len(self.kinds) * (1 + 2 * len(self.links) + recorded)

    def uploads(self) -> list[tuple[RelayLink, MediaStreamTrack]]:
        """Every upload being received now, with the link it comes on."""
        return [(link, track) for link in self.links.values() for track in link.incoming.values()]

    def subscribe(self, track: MediaStreamTrack) -> MediaStreamTrack:
        """A copy of an upload for the recording. Audio is buffered (a dropped frame is a click in
        the file); video keeps only the latest frame, so a slow encoder drops frames, not memory."""
        return self.relay.subscribe(track, buffered=track.kind == "audio")

    async def connect(self, peer: Peer) -> None:
        """Offer `peer` a link: their upload, and everyone else's media already flowing.

        A mesh room's fallback connects people only through `add_pair`."""
        if peer.peer_id in self.links or self.pairs is not None:
            return
        short = self._budget(self.cost_of_joining())
        if short is not None:
            log.warning(
                "relay %s: refusing %s, at the %s's limit (%d)", self.slug, peer.peer_id, short.scope, short.limit
            )
            await self._send_text(peer.channel_name, protocol.render_error(*relay_refusal(short)))
            return
        await self.negotiate(self._open(peer))

    def _open(self, peer: Peer) -> RelayLink:
        """A link for `peer`, already forwarding the uploads meant for them."""
        link = self.links[peer.peer_id] = RelayLink(peer, self.kinds)
        link.pc.on("track", lambda track: self._receive_track(link, track))
        link.pc.on("connectionstatechange", lambda: self._connection_changed(link))
        self._forward_uploads(to=link)
        return link

    def _forward_uploads(self, to: RelayLink) -> bool:
        """Forward to `to` every upload meant for it not yet forwarded; True if the link changed."""
        changed = False
        for other in list(self.links.values()):
            for track in list(other.incoming.values()):
                changed = self._forward(other.peer_id, track, to=to) or changed
        return changed

    def _forward(self, owner: str, track: MediaStreamTrack, to: RelayLink) -> bool:
        """Forward `owner`'s `track` on link `to`, once; True if the link changed."""
        if not self.relays_between(to.peer_id, owner) or to.closed or to.forwards(owner, track.kind):
            return False
        to.forward(owner, self.relay.subscribe(track, buffered=False))
        return True

    async def add_pair(self, first: Peer, second: Peer) -> None:
        """Carry the media between `first` (who asked) and `second`, whose direct connection failed.

        Each gets `relay-fallback` naming the other, then an offer (a new link, or a renegotiated
        one); `first` gets `relay_full` (or the room's or owner's limit) instead when the worker
        cannot carry the pair."""
        pair = frozenset((first.peer_id, second.peer_id))
        if self.pairs is None or pair in self.pairs or len(pair) != 2:
            return
        new = [peer for peer in (first, second) if peer.peer_id not in self.links]
        short = self._budget(len(self.kinds) * (len(new) + 2))
        if short is not None:
            log.warning(
                "relay %s: refusing pair %s, at the %s's limit (%d)", self.slug, sorted(pair), short.scope, short.limit
            )
            await self._send_text(first.channel_name, protocol.render_error(*pair_refusal(short, second.name)))
            return
        self.pairs.add(pair)
        log.info("relay %s: relaying the pair %s", self.slug, sorted(pair))
        for peer, partner in ((first, second), (second, first)):
            await self._send_text(peer.channel_name, protocol.render_relay_fallback(partner.peer_id))
        links = [
            (self._open(peer), True) if peer in new else (self.links[peer.peer_id], False) for peer in (first, second)
        ]
        for link, opened in links:
            if self._forward_uploads(to=link) or opened:
                await self.negotiate(link)

    async def relay_everyone(self, members: list[Peer]) -> None:
        """A mesh room with relayed pairs became a relay room: everyone to everyone now, on the
        links already up (their browsers keep them) and new ones for the others."""
        if self.pairs is None:
            return
        self.pairs = None
        for link in list(self.links.values()):
            if self._forward_uploads(to=link):
                await self.negotiate(link)
        for peer in members:
            await self.connect(peer)

    async def negotiate(self, link: RelayLink) -> None:
        """Offer `link`'s current transceivers, or note that an offer is due after the answer."""
        async with link.offering:
            if link.closed:
                return
            if link.pc.signalingState != "stable" or (link.answered and link.pc.connectionState != "connected"):
                link.pending = True
                return
            link.pending = False
            await link.pc.setLocalDescription(await link.pc.createOffer())
            sdp = str(link.pc.localDescription.sdp)
            await self._send_text(link.channel, protocol.render_relay_tracks(link.upload_mids(), link.track_owners()))
        offer = protocol.SessionDescription(type="offer", to=link.peer_id, sdp=sdp)
        await self._send_text(link.channel, protocol.render_signal(offer, protocol.SERVER_PEER_ID))

    async def signal(self, sender: str, message: dict[str, Any]) -> None:
        """An answer or ICE candidate from browser `sender` (the worker always offers)."""
        link = self.links.get(sender)
        if link is None or link.closed:
            return
        if message["type"] == "answer" and link.pc.signalingState == "have-local-offer":
            await link.pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
            link.answered = True
            if link.pending:
                await self.negotiate(link)
        elif message["type"] == "ice":
            candidate = parse_candidate(message.get("candidate"))
            if candidate is not None:
                await link.pc.addIceCandidate(candidate)

    async def drop(self, peer_id: str) -> None:
        """`peer_id` left: close their link and stop forwarding their media to everyone else.

        In a mesh room's fallback, a partner left with no other pair loses its link too."""
        link = self.links.pop(peer_id, None)
        if link is None:
            return
        if self.pairs is not None:
            self.pairs = {pair for pair in self.pairs if peer_id not in pair}
        await link.close()
        for other in list(self.links.values()):
            if self.pairs is not None and not self.partners(other.peer_id):
                del self.links[other.peer_id]
                await other.close()
            elif other.unforward(peer_id):
                await self.negotiate(other)

    async def stop(self) -> None:
        links, self.links = list(self.links.values()), {}
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)

    def _receive_track(self, link: RelayLink, track: MediaStreamTrack) -> None:
        if not any(upload.receiver.track is track for upload in link.uploads):
            return
        log.info("%s uploading %s", link.log_prefix, track.kind)
        link.incoming[track.kind] = track
        if self.recorder is not None:
            self.recorder.record_upload(link.peer_id, link.name, track)
        self._later(self._fan_out(link.peer_id, track))

    async def _fan_out(self, owner: str, track: MediaStreamTrack) -> None:
        for other in list(self.links.values()):
            if self._forward(owner, track, to=other):
                await self.negotiate(other)

    def _connection_changed(self, link: RelayLink) -> None:
        state = link.pc.connectionState
        log.info("%s connection %s", link.log_prefix, state)
        if state == "connected" and link.pending:
            self._later(self.negotiate(link))
        elif state == "failed" and self.links.get(link.peer_id) is link:
            self._later(self.drop(link.peer_id))

    def _later(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
