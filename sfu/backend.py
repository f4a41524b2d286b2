"""Janus as signaling's media backend (`signaling.media.MediaBackend`), picked when JANUS_URLS is set.

Relay rooms (and `auto` rooms while above their threshold) are carried by a private Janus
VideoRoom (`sfu.relayroom.JanusRoom`): each browser publishes once and receives everyone on
one subscriber connection, negotiated over its signaling socket with `server`. The process
keeps one connection to Janus (`sfu.janus_client.connection_for`) and one session on it for
all its rooms; the rooms, their people and their handles live in this process.

What Janus does not do here yet goes to the aiortc worker, as without Janus: recording mesh
rooms and carrying a mesh pair whose direct connection failed. Recording a room Janus carries
is refused (`recording_unavailable`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer
from django.conf import settings

from mediaworker.backend import AiortcBackend
from sfu import videoroom
from sfu.candidates import Network
from sfu.janus_client import ClientOptions, Handle, JanusClientError, Session, connection_for
from sfu.relayroom import JanusRoom, Member
from signaling import protocol
from signaling.media import MediaRefused, MediaUnavailable
from signaling.presence import Peer, get_presence

if TYPE_CHECKING:
    from signaling.media import MediaBackend

log = logging.getLogger(__name__)

# Janus's own cap on a room's publishers; rooms' capacities (signaling) stay far below it.
_ROOM_PUBLISHERS = 100
# How long rooms lost with their Janus session are tried again (Janus restarting, or unreachable).
_RECOVER_SECONDS = 120


class JanusBackend:
    """Relay rooms through Janus, the rest through the aiortc worker; see `signaling.media.MediaBackend`."""

    def __init__(
        self,
        url: str | None = None,
        api_secret: str | None = None,
        admin_key: str | None = None,
        allowed: Sequence[Network] | None = None,
        options: ClientOptions | None = None,
    ) -> None:
        self.url = url or settings.JANUS_URLS[0]
        self._api_secret = settings.JANUS_API_SECRET if api_secret is None else api_secret
        self._admin_key = settings.JANUS_ADMIN_KEY if admin_key is None else admin_key
        self._allowed = list(settings.JANUS_BROWSER_NETWORKS if allowed is None else allowed)
        self._options = options
        self._aiortc = AiortcBackend()
        self.rooms: dict[str, JanusRoom] = {}
        self._session: Session | None = None
        self._admin: Handle | None = None
        self._session_lock = asyncio.Lock()
        self._recovering: set[asyncio.Task[None]] = set()

    async def relay_room(self, slug: str, audio_only: bool) -> None:
        try:
            room, created = await self._room(slug)
        except JanusClientError as error:
            log.warning("janus: cannot carry room %s: %s", slug, error)
            raise MediaUnavailable(str(error)) from error
        if created:
            # Those already in the room: an `auto` room crossing its threshold, or a room whose
            # Janus session was lost (the next joiner brings everyone back).
            for peer in await get_presence().members(slug):
                await self._take_in(room, peer)

    async def release_room(self, slug: str) -> None:
        room = self.rooms.pop(slug, None)
        if room is not None:
            async with room.lock:
                await room.destroy()

    async def person_joined(self, slug: str, peer_id: str) -> None:
        room = self.rooms.get(slug)
        if room is None:
            await self._aiortc.person_joined(slug, peer_id)
            return
        peer = await get_presence().find(slug, peer_id)
        if peer is not None:
            await self._take_in(room, peer)

    async def _take_in(self, room: JanusRoom, peer: Peer) -> None:
        """Join `peer` to the Janus room (once); if Janus fails them, their page is told why."""
        async with room.lock:
            if peer.peer_id in room.members:
                return
            try:
                await room.add(peer.peer_id, peer.channel_name, peer.name)
            except JanusClientError as error:
                log.warning("janus room %s: could not take %s in: %s", room.slug, peer.peer_id, error)
                await room.remove(peer.peer_id)
                text = protocol.render_error(
                    "relay_unavailable", "The media server could not take you in; reload to try again."
                )
                await send_text(peer.channel_name, text)

    async def person_left(self, slug: str, peer_id: str) -> None:
        room = self.rooms.get(slug)
        if room is None:
            await self._aiortc.person_left(slug, peer_id)
            return
        async with room.lock:
            await room.remove(peer_id)
            if room.members or self.rooms.get(slug) is not room:
                return
            del self.rooms[slug]  # the last one out: the Janus room goes with them
            await room.destroy()

    async def room_closed(self, slug: str) -> None:
        await self.release_room(slug)
        await self._aiortc.room_closed(slug)

    async def signal(self, slug: str, sender: str, text: str) -> None:
        room = self.rooms.get(slug)
        member = room.members.get(sender) if room is not None else None
        if room is None or member is None:
            await self._aiortc.signal(slug, sender, text)
            return
        async with room.lock:
            try:
                await _negotiate(room, member, json.loads(text))
            except JanusClientError as error:
                log.warning("janus room %s, peer %s: %s", slug, sender, error)
                raise protocol.ProtocolError(
                    "relay_unavailable", "The media server did not take that; reload to try again."
                ) from None

    async def relay_pair(self, slug: str, asking: str, partner: str, audio_only: bool) -> None:
        await self._aiortc.relay_pair(slug, asking, partner, audio_only)

    async def start_recording(self, slug: str, recording_id: int) -> None:
        if slug in self.rooms:
            raise MediaRefused(
                "Rooms carried by the Janus media server cannot be recorded yet.", "recording_unavailable"
            )
        await self._aiortc.start_recording(slug, recording_id)

    async def stop_recording(self, slug: str, recording_id: int) -> None:
        await self._aiortc.stop_recording(slug, recording_id)

    async def _room(self, slug: str) -> tuple[JanusRoom, bool]:
        """Room `slug`'s Janus room, created (private, random id, secret and pin) on first need;
        and whether it was created now."""
        async with self._session_lock:
            room = self.rooms.get(slug)
            if room is not None and not room.session.lost.is_set():
                return room, False
            session, admin = await self._admin_handle()
            access = await videoroom.create_room(
                admin, self._admin_key, publishers=_ROOM_PUBLISHERS, videocodec="vp8", audiocodec="opus"
            )
            room = self.rooms[slug] = JanusRoom(slug, session, access, send_text, self._allowed)
            log.info("janus: room %s carried by Janus room %s", slug, access.room)
            return room, True

    async def _admin_handle(self) -> tuple[Session, Handle]:
        """This process's session on Janus and its handle for room requests (new ones after a loss)."""
        if self._session is None or self._session.lost.is_set() or self._admin is None:
            connection = connection_for(self.url, self._api_secret, self._options)
            if self._forget_rooms_of not in connection.on_session_lost:
                connection.on_session_lost.append(self._forget_rooms_of)
            self._session = await connection.create_session()
            self._admin = await self._session.attach(videoroom.PLUGIN)
        return self._session, self._admin

    def _forget_rooms_of(self, session: Session) -> None:
        """Janus lost `session` (restart, lost socket): its rooms are gone with it, and are made
        again, with everyone still in them, once Janus answers."""
        for slug, room in list(self.rooms.items()):
            if room.session is session:
                log.warning("janus: room %s lost with its session (%s)", slug, session.lost_reason)
                del self.rooms[slug]
                task = asyncio.create_task(self._recover(slug), name=f"janus recover {slug}")
                self._recovering.add(task)
                task.add_done_callback(self._recovering.discard)

    async def _recover(self, slug: str) -> None:
        """Carry room `slug` again on a new session; each page then publishes and subscribes anew."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _RECOVER_SECONDS
        while await get_presence().members(slug) and slug not in self.rooms:
            try:
                await self.relay_room(slug, audio_only=False)
                log.info("janus: room %s carried again", slug)
                return
            except MediaUnavailable:
                if loop.time() > deadline:
                    log.error("janus: room %s not carried again within %s s", slug, _RECOVER_SECONDS)
                    return
                await asyncio.sleep(1)


async def _negotiate(room: JanusRoom, member: Member, message: dict[str, Any]) -> None:
    """A browser's signal to `server` (already parsed by signaling.protocol) on its Janus connections."""
    kind, link = message.get("type"), message.get("link", "")
    if kind == "ice":
        await room.trickle(member, link, message.get("candidate"))
    elif kind == "offer" and link == protocol.PUBLISH_LINK:
        await room.publish(member, message["sdp"])
    elif kind == "answer" and not link:
        await room.answer(member, message["sdp"])
    else:
        raise protocol.ProtocolError(
            "bad_link", "Offer to the server only to publish (`link`: `publish`), and answer only its offers."
        )


async def send_text(channel: str, text: str) -> None:
    """A message for one browser, through its consumer (as `server`'s signals travel)."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(channel, {"type": "peer.signal", "text": text})


if TYPE_CHECKING:  # mypy checks that Janus implements the whole seam
    _CONFORMS: MediaBackend = JanusBackend()
