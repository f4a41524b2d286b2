"""The room WebSocket: parse, check, call a service. Nothing else lives here."""

import contextlib
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from signaling import fallback, groups, metrics, moderation, presence, protocol, recording, resume, services
from signaling.daphne_compat import SEND_ERRORS
from signaling.hub import hub
from signaling.identity import Identity
from signaling.language import connection_language
from signaling.layers import serve_from_one_inbox
from signaling.presence import Peer
from signaling.protocol import CloseCode, ProtocolError
from signaling.ratelimit import TokenBucket
from signaling.shutdown import GOING_AWAY, install_drain_on_sigterm

log = logging.getLogger(__name__)

# Our own closes after which a browser comes back (docs/protocol.md): a restart, a lost Redis.
_RESUMABLE_CLOSES = frozenset({CloseCode.GOING_AWAY, CloseCode.SERVICE_RESTART})
# What a browser sends when its person hangs up or leaves the page: final.
_HANG_UP_CODES = frozenset({1000, 1001})


class RoomConsumer(AsyncWebsocketConsumer):
    """One browser in one room (`/ws/rooms/<slug>/`), see docs/protocol.md."""

    peer: Peer | None = None
    known_at_welcome: set[str]
    room_mode = "mesh"
    waiting: Peer | None = None  # knocking at a room that asks newcomers to wait
    identity: Identity | None = None
    slug: str = ""
    closing = False
    closed_with: int | None = None  # the close code we sent, if we closed the socket
    resume_token = ""  # presented on connect (`?resume=`)
    token_given_at = 0.0  # monotonic time the last resume token went to the browser
    language = ""  # of this socket's sentences (signaling/language.py)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Every sentence made while serving this socket, in its own task (and the tasks and
        # database threads it starts), is in its person's language; the codes stay as they are.
        self.language = connection_language(scope)
        with translation.override(self.language):
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            if not await serve_from_one_inbox(self, scope, receive, send):
                await super().__call__(scope, receive, send)
        except services.BACKEND_ERRORS:
            # The channel layer lost Redis while waiting for our next event: close with
            # 1012 so the browser reconnects, rather than crashing into a 1011.
            log.warning("channel layer unreachable: closing %s with 1012", self.channel_name)
            await self._forget_connection(resumable=True)
            if not self.closing:
                self.closing = True
                # The browser may have gone meanwhile: nothing to tell it then.
                with contextlib.suppress(*SEND_ERRORS):
                    await send({"type": "websocket.send", "text": protocol.render_refusal(*services.UNAVAILABLE)})
                    await send({"type": "websocket.close", "code": int(CloseCode.SERVICE_RESTART)})
        except Exception:
            # A bug: the server closes the socket with 1011 and never calls disconnect(), so leave
            # presence here, or this process renews a ghost's lease for as long as it runs.
            await self._forget_connection(resumable=True)
            raise

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs close_old_connections() through a thread hop before every frame and
        # event; this consumer reaches the database only through database_sync_to_async
        # helpers, which do that themselves, so the hot path skips two hops per relay.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        started = time.perf_counter()
        self.slug = self.scope["url_route"]["kwargs"]["slug"]
        self.known_at_welcome = set()
        self.resume_token = _query_value(self.scope, "resume")
        self.bucket = TokenBucket(settings.SIGNALING_RATE_LIMIT_PER_SECOND, settings.SIGNALING_RATE_LIMIT_BURST)
        self.strikes = 0
        self.chat_bucket = TokenBucket(settings.CHAT_RATE_PER_SECOND, settings.CHAT_BURST)
        self.media_state_bucket = TokenBucket(settings.MEDIA_STATE_RATE_PER_SECOND, settings.MEDIA_STATE_BURST)
        self.fallback_bucket = TokenBucket(settings.RELAY_FALLBACK_RATE_PER_SECOND, settings.RELAY_FALLBACK_BURST)
        # Accept first so a refusal can carry a readable message and a close code.
        await self.accept()
        hub.register(self.channel_name, self)
        self._start_process_chores()
        if hub.draining:
            await self.refuse(CloseCode.GOING_AWAY, *GOING_AWAY)
            return
        await self._enter()
        if self.peer is not None:
            metrics.JOIN_SECONDS.observe(time.perf_counter() - started)

    async def _enter(self, knocked: bool = False) -> None:
        try:
            async with hub.admission_gate(settings.SIGNALING_CONCURRENT_JOINS):
                entry = await services.check_entry(self.scope, self.slug, self.channel_name, knocked, self.resume_token)
                # Join the group only once cleared (a knocking connection hears nothing of the
                # room), and before taking a place, so no peer-joined can slip between the two.
                await self.channel_layer.group_add(groups.room_group(self.slug), self.channel_name)
                admission = await services.take_place(self.slug, entry)
        except services.MustKnock as knock:
            await self._wait_at_door(knock)
            return
        except services.Refused as refusal:
            await self._refuse(refusal.close_code, refusal.reason, refusal.message)
            return
        except services.BACKEND_ERRORS as error:
            log.warning("could not admit a peer to room %s (%r): closing with 1012", self.slug, error)
            metrics.CONNECTIONS_REFUSED.labels(reason="service_restarting").inc()
            await self.refuse(CloseCode.SERVICE_RESTART, *services.UNAVAILABLE)
            return
        self.peer = admission.peer
        self.room_kind = admission.room_kind
        self.identity = admission.identity
        self.known_at_welcome = set(admission.known)
        self.room_mode = admission.mode
        self.token_given_at = time.monotonic()
        if not await self._send_welcome(admission):
            return
        if self.identity.moderator:
            await self._join_moderators()
        verb = "resumed in" if admission.resumed else "joined"
        log.info("peer %s (%s) %s room %s", self.peer.peer_id, self.peer.name, verb, self.slug)

    async def _send_welcome(self, admission: services.Admission) -> bool:
        """Send `welcome`; False if the socket closed while the join was on its way (a drain's 1001,
        a browser gone): its queued disconnect() leaves the room, with no Disconnected traceback."""
        if self.closing:
            return False
        try:
            await self.send(text_data=admission.welcome)
            for notice in admission.notices:
                await self.send(text_data=notice)
        except SEND_ERRORS:
            self.closing = True
            log.info("peer %s: socket closed before its welcome", admission.peer.peer_id)
            return False
        return True

    async def _refuse(self, code: CloseCode, reason: str, message: str) -> None:
        metrics.CONNECTIONS_REFUSED.labels(reason=reason).inc()
        await self.channel_layer.group_discard(groups.room_group(self.slug), self.channel_name)
        await self.shut(code, protocol.render_error(reason, message))

    async def _wait_at_door(self, knock: services.MustKnock) -> None:
        """Knock to enter: nothing of the room reaches this socket until a moderator answers."""
        self.identity = knock.identity
        try:
            await moderation.start_waiting(self.slug, knock.peer, services.sockets_per_person(self.slug))
        except ProtocolError as error:
            await self._refuse(CloseCode.ROOM_FULL, error.code, error.message)
            return
        except (presence.TooManyConnections, presence.Barred) as error:
            refusal = services.presence_refusal(error, moderation.MAX_WAITING)
            await self._refuse(refusal.close_code, refusal.reason, refusal.message)
            return
        self.waiting = knock.peer
        await self.send(text_data=protocol.render_waiting(_(moderation.WAITING_MESSAGE)))

    async def _join_moderators(self) -> None:
        await self.channel_layer.group_add(groups.moderators_group(self.slug), self.channel_name)
        for text in await moderation.waiting_list(self.slug):
            await self.deliver(text)

    def _start_process_chores(self) -> None:
        install_drain_on_sigterm()
        # Leases and sweeps with shared presence; in every process, departures whose window closed.
        hub.ensure_loop(settings.PRESENCE_HEARTBEAT_SECONDS, services.maintain_presence)

    async def disconnect(self, code: int) -> None:
        # Only a person hanging up is final; a dropped socket, or our own 1001/1012, may resume.
        if self.closed_with is not None:
            resumable = self.closed_with in _RESUMABLE_CLOSES
        else:
            resumable = code not in _HANG_UP_CODES
        await self._forget_connection(resumable)

    async def _forget_connection(self, resumable: bool = False) -> None:
        try:
            await self._leave(resumable)
        finally:
            # Last: a draining shutdown waits for the hub to empty, so the process does not exit
            # before this peer has left presence (else it stays listed until its lease lapses).
            hub.unregister(self.channel_name)

    async def _leave(self, resumable: bool) -> None:
        if self.waiting is not None:
            await self._stop_waiting("left")
        if self.peer is None:
            return
        peer, self.peer = self.peer, None
        try:
            if self.identity is not None and self.identity.moderator:
                await self.channel_layer.group_discard(groups.moderators_group(self.slug), self.channel_name)
            await self.channel_layer.group_discard(groups.room_group(self.slug), self.channel_name)
            await services.leave_room(self.slug, peer, self.room_mode, resumable)
        except services.BACKEND_ERRORS:
            # Presence lapses on its own once this process stops renewing the lease.
            log.warning("peer %s left room %s while Redis was unreachable", peer.peer_id, self.slug)
        log.info("peer %s left room %s", peer.peer_id, self.slug)

    async def _stop_waiting(self, outcome: moderation.Outcome) -> None:
        waiter, self.waiting = self.waiting, None
        if waiter is None:
            return
        try:
            await moderation.stop_waiting(self.slug, waiter, outcome)
        except services.BACKEND_ERRORS:
            # Its lease lapses on its own once this process stops renewing it.
            log.warning("peer %s stopped waiting at room %s while Redis was unreachable", waiter.peer_id, self.slug)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.waiting is not None and not self.closing:
            await self._receive_while_waiting(text_data, bytes_data)
            return
        if self.peer is None or self.closing:
            return
        if not await self._within_rate():
            return
        try:
            message = protocol.parse_client_message(text_data, bytes_data, settings.SIGNALING_MAX_MESSAGE_BYTES)
            if isinstance(message, protocol.Ping):
                await self.send(text_data=protocol.render_pong(self._fresh_resume_token()))
            elif isinstance(message, protocol.ChatSend):
                await self._post_chat(message)
            elif isinstance(message, protocol.CallStats):
                services.record_call_stats(self.room_kind, message)
            elif isinstance(message, protocol.MediaState):
                await self._announce_media_state(message)
            elif isinstance(message, protocol.RecordingControl):
                await recording.control_recording(self.slug, self.peer, message)
            elif isinstance(message, protocol.Moderate):
                delegate = self.identity.delegate(self.slug) if self.identity else None
                await moderation.moderate(self.slug, self.peer, message, delegate)
            elif isinstance(message, protocol.RelayFallback):
                await self._ask_for_fallback(message)
            else:
                await services.relay_signal(self.slug, self.peer, message)
        except ProtocolError as error:
            await self._send_error(error.code, error.message, error.ref)
        except services.BACKEND_ERRORS:
            await self.refuse(CloseCode.SERVICE_RESTART, *services.UNAVAILABLE)

    async def _receive_while_waiting(self, text_data: str | None, bytes_data: bytes | None) -> None:
        if not await self._within_rate():
            return
        try:
            message = protocol.parse_client_message(text_data, bytes_data, settings.SIGNALING_MAX_MESSAGE_BYTES)
        except ProtocolError as error:
            await self._send_error(error.code, error.message)
            return
        if isinstance(message, protocol.Ping):
            await self.send(text_data=protocol.render_pong())
        else:
            await self._send_error("not_admitted", _("You are still waiting for a moderator to let you in."))

    def _fresh_resume_token(self) -> str:
        """A new resume token once the last one has used a quarter of its life (else ""), so
        that a browser always holds one young enough to reconnect with, at one signature per
        few pings."""
        assert self.peer is not None and self.identity is not None
        if time.monotonic() - self.token_given_at < settings.SIGNALING_RESUME_SECONDS / 4:
            return ""
        self.token_given_at = time.monotonic()
        return resume.issue(self.slug, self.peer.peer_id, self.identity.key)

    async def _post_chat(self, message: protocol.ChatSend) -> None:
        assert self.peer is not None
        if not self.chat_bucket.allow():
            raise ProtocolError(
                "chat_too_fast", _("You are sending chat messages too fast; wait a moment."), message.id
            )
        if (answer := await services.post_chat(self.slug, self.peer, message)) is not None:
            await self.send(text_data=answer)

    async def _announce_media_state(self, message: protocol.MediaState) -> None:
        assert self.peer is not None
        if not self.media_state_bucket.allow():
            raise ProtocolError(
                "media_state_too_fast", _("Your microphone, camera or hand changed too often; wait a moment.")
            )
        await services.announce_media_state(self.slug, self.peer, message)

    async def _ask_for_fallback(self, message: protocol.RelayFallback) -> None:
        assert self.peer is not None
        if not self.fallback_bucket.allow():
            raise ProtocolError("fallback_too_fast", _("Too many requests to relay a connection; wait a moment."))
        audio_only = self.room_kind == "audio"
        await fallback.request_fallback(self.slug, self.peer, message, self.room_mode, audio_only)

    async def _within_rate(self) -> bool:
        if self.bucket.allow():
            self.strikes = 0
            return True
        self.strikes += 1
        if self.strikes >= settings.SIGNALING_RATE_LIMIT_STRIKES:
            metrics.ERRORS.labels(code="rate_limited").inc()
            await self.shut(
                CloseCode.RATE_LIMITED,
                protocol.render_error("rate_limited", _("Disconnected for sending too many messages.")),
            )
        elif self.strikes == 1 or self.strikes % 10 == 0:
            # Tell the sender, without answering each refused frame of a flood.
            await self._send_error("rate_limited", _("Too many messages: slow down or you will be disconnected."))
        return False

    async def _send_error(self, code: str, message: str, ref: str = "") -> None:
        metrics.ERRORS.labels(code=code).inc()
        await self.send(text_data=protocol.render_error(code, message, ref))

    # hub.Connection ---------------------------------------------------------------

    async def deliver(self, text: str) -> None:
        if self.closing:
            return
        try:
            await self.send(text_data=text)
        except SEND_ERRORS:
            # The hub delivers in the sender's task: a target that has just gone must not take
            # the sender down with it. Its own disconnect() announces that it left.
            self.closing = True
            log.info("peer %s: socket closed while delivering to it", self.channel_name)

    async def shut(self, code: int, text: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.closed_with = int(code)
        with contextlib.suppress(*SEND_ERRORS):  # the browser may have gone first: nothing to tell it
            await self.send(text_data=text)
            await self.close(code=int(code))  # daphne refuses IntEnum codes

    async def refuse(self, code: int, reason: str, sentence: str, params: dict[str, Any] | None = None) -> None:
        """Close with `code` after an `error` (`reason`) whose English `sentence` is translated
        into this socket's language, whichever task asks (the hub closes every socket at once)."""
        with translation.override(self.language):
            text = protocol.render_refusal(reason, sentence, params)
        await self.shut(code, text)

    # Channel-layer events ---------------------------------------------------------

    async def peer_signal(self, event: dict[str, Any]) -> None:
        await self.deliver(event["text"])

    async def room_peer_joined(self, event: dict[str, Any]) -> None:
        peer_id = event["peer_id"]
        if peer_id in self.known_at_welcome:
            # Our welcome listed them: skip this once (a later one is a return after a drop).
            self.known_at_welcome.discard(peer_id)
            return
        if self.peer is not None and peer_id != self.peer.peer_id:
            await self.deliver(event["text"])

    async def room_peer_left(self, event: dict[str, Any]) -> None:
        self.known_at_welcome.discard(event["peer_id"])
        if self.peer is not None and event["peer_id"] != self.peer.peer_id:
            await self.deliver(event["text"])

    async def room_recording(self, event: dict[str, Any]) -> None:
        if self.peer is not None:
            await self.deliver(event["text"])

    async def room_media_mode(self, event: dict[str, Any]) -> None:
        await self.deliver(event["text"])

    async def room_chat(self, event: dict[str, Any]) -> None:
        if self.peer is not None:
            await self.deliver(event["text"])

    # Moderation and knock-to-enter (signaling/moderation.py) ----------------------

    async def room_notice(self, event: dict[str, Any]) -> None:
        if self.peer is not None:
            await self.deliver(event["text"])

    async def peer_notice(self, event: dict[str, Any]) -> None:
        if self.peer is not None:
            await self.deliver(event["text"])

    async def peer_removed(self, event: dict[str, Any]) -> None:
        await self._stop_waiting("denied")
        # Leave presence now, so the others see them go at once, then tell them why.
        await self._forget_connection()
        await self.refuse(CloseCode.FORBIDDEN, event["code"], event["sentence"], event.get("params"))

    async def peer_replaced(self, event: dict[str, Any]) -> None:
        """Our peer id resumed on a newer connection: leave without a departure (the id is not
        ours in presence any more, so nobody is told), then close for good."""
        await self._forget_connection()
        await self.refuse(CloseCode.REPLACED, *services.REPLACED)

    async def peer_admitted(self, event: dict[str, Any]) -> None:
        if self.waiting is None or self.closing:
            return
        await self._stop_waiting("admitted")
        await self._enter(knocked=True)

    async def room_media_state(self, event: dict[str, Any]) -> None:
        await self.deliver(event["text"])

    async def room_closed(self, event: dict[str, Any]) -> None:
        await self.refuse(CloseCode.ROOM_CLOSED, event["code"], event["sentence"], event.get("params"))


def _query_value(scope: dict[str, Any], name: str) -> str:
    """One value of the socket URL's query string, or ""."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else ""
