"""One relay room carried by a Janus VideoRoom, as this process serves it.

Each person has two connections with Janus, both negotiated through the signaling socket with
the reserved peer `server`: a publisher handle (the browser offers its own media, send-only,
once; its signals carry `link: publish`) and a subscriber handle receiving every other
published feed on one multistream connection (Janus offers, the browser answers). Before each
of Janus's offers the browser gets `relay-tracks`: which person each `mid` carries.

Janus renegotiates a subscriber by itself when a feed it carries goes (an `updated` event
with an offer); we ask it to (`update`) when a feed appears, that is when its publisher's
connection is up (`webrtcup`: Janus refuses a subscription to a feed before, "No such feed"). One offer at a time per
subscriber: a change waits until the browser's answer to the previous offer has been given
to Janus.

Everything a browser sends is checked first (`sfu.candidates`): SDPs lose the candidate lines
Janus must not get, and a trickled candidate outside the allowed addresses is refused with
`bad_candidate` and a sentence. Room ids, secrets, participant ids and names are the
server's (`sfu.videoroom`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sfu import videoroom
from sfu.candidates import CandidateRefused, Network, checked_trickle, without_refused_candidates
from sfu.janus_client import Handle, JanusClientError, JanusTimeout, JsonDict, Session, SessionLost
from signaling import protocol

log = logging.getLogger(__name__)

SendText = Callable[[str, str], Awaitable[None]]
# Janus sends nothing unasked on an idle handle for long stretches; a pump just waits again.
_EVENT_WAIT_SECONDS = 3600.0


@dataclass
class Member:
    """Someone in the room: their channel, their feed id (chosen here) and their two handles."""

    peer_id: str
    channel: str
    feed: int
    publisher: Handle
    subscriber: Handle | None = None
    subscribed: set[int] = field(default_factory=set)
    offering: int = 0  # Janus's offers with the browser, not answered yet (Janus may add one itself)
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class JanusRoom:
    """A private VideoRoom and the people this process has in it; every change under `lock`."""

    def __init__(
        self, slug: str, session: Session, access: videoroom.RoomAccess, send: SendText, allowed: Sequence[Network]
    ) -> None:
        self.slug = slug
        self.session = session
        self.access = access
        self.lock = asyncio.Lock()
        self.members: dict[str, Member] = {}
        self.feeds: dict[int, str] = {}  # published feed id -> peer id
        self._send = send
        self._allowed = allowed

    async def add(self, peer_id: str, channel: str, name: str) -> None:
        """Join `peer_id` as a publisher under an id and name chosen here, and ask the browser
        to publish; it receives the others once they have published."""
        handle = await self.session.attach(videoroom.PLUGIN)
        member = Member(peer_id, channel, videoroom.random_id(), handle)
        self.members[peer_id] = member
        member.pumps.append(self._pump(member, handle, publishing=True))
        await videoroom.join_as_publisher(handle, self.access, member.feed, name)
        await self._send(channel, protocol.render_relay_publish())
        await self._reconcile(member)

    async def remove(self, peer_id: str) -> None:
        """Hang up both of `peer_id`'s connections; Janus renegotiates the others without them."""
        member = self.members.pop(peer_id, None)
        if member is None:
            return
        self.feeds.pop(member.feed, None)
        for pump in member.pumps:
            pump.cancel()
        for handle in (member.publisher, member.subscriber):
            if handle is not None:
                with contextlib.suppress(JanusClientError):
                    await handle.detach()

    async def publish(self, member: Member, sdp: str) -> None:
        """The browser's offer of its own media: Janus's answer back (the others subscribe once
        its connection is up: Janus offers no feed before)."""
        offer = {"type": "offer", "sdp": without_refused_candidates(sdp, self._allowed)}
        answer = await videoroom.publish(member.publisher, offer)
        await self._signal(member, "answer", answer["sdp"], link=protocol.PUBLISH_LINK)

    async def _published(self, member: Member) -> None:
        """`member`'s upload reached Janus: everyone else subscribes to it."""
        if self.members.get(member.peer_id) is not member:
            return
        self.feeds[member.feed] = member.peer_id
        for other in list(self.members.values()):
            if other is not member:
                await self._reconcile(other)

    async def answer(self, member: Member, sdp: str) -> None:
        """The browser's answer to Janus's last offer on its subscriber connection."""
        if member.subscriber is None or not member.offering:
            raise protocol.ProtocolError("unexpected_answer", "The server made no offer for this answer.")
        answer = {"type": "answer", "sdp": without_refused_candidates(sdp, self._allowed)}
        member.offering -= 1
        await videoroom.start(member.subscriber, answer)
        await self._reconcile(member)

    async def trickle(self, member: Member, link: str, candidate: Any) -> None:
        """A browser's ICE candidate (None: no more) for one of its connections, checked first."""
        handle = member.publisher if link == protocol.PUBLISH_LINK else member.subscriber
        if handle is None:
            raise protocol.ProtocolError("unknown_link", "That connection with the server is not open yet.")
        try:
            await handle.trickle(None if candidate is None else checked_trickle(candidate, self._allowed))
        except CandidateRefused as refused:
            raise protocol.ProtocolError(refused.code, str(refused)) from None

    async def destroy(self) -> None:
        """Everyone out, and the Janus room destroyed."""
        for peer_id in list(self.members):
            await self.remove(peer_id)
        with contextlib.suppress(JanusClientError):
            admin = await self.session.attach(videoroom.PLUGIN)
            await videoroom.destroy_room(admin, self.access)
            await admin.detach()

    async def _reconcile(self, member: Member) -> None:
        """Bring `member`'s subscription to every feed published but their own, unless an offer
        is already out (the answer brings us back here)."""
        if member.offering or member.peer_id not in self.members:
            return
        wanted = set(self.feeds) - {member.feed}
        add, remove = sorted(wanted - member.subscribed), sorted(member.subscribed - wanted)
        if not add and not remove:
            return
        if member.subscriber is None:
            if not add:
                return
            member.subscriber = await self.session.attach(videoroom.PLUGIN)
            member.pumps.append(self._pump(member, member.subscriber, publishing=False))
            offer: videoroom.SubscriberOffer | None = await videoroom.subscribe(member.subscriber, self.access, add)
        else:
            offer = await videoroom.update_subscription(member.subscriber, add, remove)
        member.subscribed = wanted
        if offer is not None:
            await self._offer(member, offer)

    async def _offer(self, member: Member, offer: videoroom.SubscriberOffer) -> None:
        owners = {mid: self.feeds[feed] for mid, feed in offer.owners().items() if feed in self.feeds}
        member.offering += 1
        member.subscribed = {feed for feed in offer.owners().values()}
        await self._send(member.channel, protocol.render_relay_tracks([], owners))
        await self._signal(member, "offer", offer.jsep["sdp"])

    async def _signal(self, member: Member, kind: str, sdp: str, link: str = "") -> None:
        message = protocol.SessionDescription(type=kind, to=member.peer_id, sdp=sdp, link=link)  # type: ignore[arg-type]
        await self._send(member.channel, protocol.render_signal(message, protocol.SERVER_PEER_ID))

    def _pump(self, member: Member, handle: Handle, *, publishing: bool) -> asyncio.Task[None]:
        name = f"janus {self.slug} {member.peer_id} {'publisher' if publishing else 'subscriber'}"
        return asyncio.create_task(self._take_events(member, handle, publishing), name=name)

    async def _take_events(self, member: Member, handle: Handle, publishing: bool) -> None:
        """Janus's unasked messages on one handle: its candidates go to the browser, a
        subscriber's `updated` offer too; the rest is logged."""
        while True:
            try:
                event = await handle.next_event(_EVENT_WAIT_SECONDS)
            except JanusTimeout:
                continue
            except SessionLost:
                return
            try:
                # Under the room's lock, so that Janus's candidates for an offer or answer reach
                # the browser after it: that SDP is sent while the lock is held.
                async with self.lock:
                    await self._on_event(member, event, publishing)
            except (JanusClientError, protocol.ProtocolError) as error:
                log.warning("janus room %s, peer %s: %s", self.slug, member.peer_id, error)

    async def _on_event(self, member: Member, event: JsonDict, publishing: bool) -> None:
        kind = event.get("janus")
        if kind == "trickle":
            candidate = event.get("candidate") or {}
            init = None if candidate.get("completed") else candidate
            link = protocol.PUBLISH_LINK if publishing else ""
            message = protocol.IceCandidate(to=member.peer_id, candidate=init, link=link)
            await self._send(member.channel, protocol.render_signal(message, protocol.SERVER_PEER_ID))
            return
        if publishing and kind == "webrtcup":
            await self._published(member)
            return
        data = (event.get("plugindata") or {}).get("data") or {}
        if not publishing and data.get("videoroom") == "updated" and event.get("jsep"):
            await self._offer(member, videoroom.subscriber_offer(data, event["jsep"], "updated"))
            return
        log.debug("janus room %s, peer %s: %s %s", self.slug, member.peer_id, kind, data or "")
