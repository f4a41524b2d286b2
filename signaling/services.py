"""Signaling business rules: who may join a room, relaying signals, leaving.

The consumer calls these and only these. Channel-layer events use dotted
internal types (`room.peer_joined`), distinct from what browsers see; the text
a browser will receive is rendered once, by the sender, in `protocol`.
"""

import contextlib
import dataclasses
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from audioexchange import outages
from chat import selectors as chat_selectors
from chat import services as chat_services
from invites.services import GuestRefused
from mediaworker import selectors as recording_selectors
from moderation import selectors as moderation_selectors
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.models import Room, RoomMode
from signaling import events, metrics, protocol, resume
from signaling.auth import client_address, resolve_user
from signaling.groups import group_send, waiting_key
from signaling.hub import hub
from signaling.ice import TURN_THROTTLED, ice_servers_for, turn_refusal
from signaling.identity import Identity, identify
from signaling.media import MediaUnavailable, media_backend
from signaling.mediastate import get_media_states
from signaling.presence import Barred, Peer, PersonLimit, RoomFull, TooManyConnections, get_presence
from signaling.protocol import CloseCode, ProtocolError

log = logging.getLogger(__name__)

# A lost Redis (presence or channel layer) or database: the consumer answers with 1012 and the
# browser reconnects.
BACKEND_ERRORS = outages.BACKEND_ERRORS
# Refusals sent to many sockets: (code, English sentence), translated for each (protocol.render_refusal).
UNAVAILABLE = (
    "service_restarting",
    gettext_noop("The server is restarting or lost its database; reconnecting shortly."),
)


class Refused(Exception):
    """A connection that may not join; closed with `close_code` after an error message."""

    def __init__(self, close_code: CloseCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RoomTicket:
    """What the database says about a room for one joining user (or guest)."""

    slug: str
    room_id: int
    capacity: int
    info: dict[str, Any]
    chat: list[dict[str, Any]]
    identity: Identity
    must_knock: bool  # the room asks newcomers to wait, and this one does not moderate it


@dataclass(frozen=True)
class Admission:
    peer: Peer
    welcome: str
    room_kind: str  # "audio" or "video": the only label call-quality metrics carry
    identity: Identity
    # Listed in `welcome`: their own `peer-joined` may still arrive (the newcomer joined the
    # group before taking its place, so that nobody's is missed) and is not passed on.
    known: frozenset[str] = frozenset()
    mode: str = RoomMode.MESH  # the room's setting when this peer joined (`auto` rooms re-check on leaving)
    resumed: bool = False  # the peer came back under its earlier peer id (a resume token)
    notices: tuple[str, ...] = ()  # rendered messages to send right after `welcome` (`turn_throttled`)


class MustKnock(Exception):
    """The room asks newcomers to wait for a moderator: `peer` waits at the door."""

    def __init__(self, peer: Peer, identity: Identity) -> None:
        super().__init__("waiting")
        self.peer = peer
        self.identity = identity


@database_sync_to_async
def _check_entry(scope: dict[str, Any], slug: str, knocked: bool) -> RoomTicket:
    user = resolve_user(scope)
    room = Room.objects.filter(slug=slug).first()
    if room is None:
        raise Refused(CloseCode.ROOM_NOT_FOUND, "room_not_found", _("There is no room %(slug)r.") % {"slug": slug})
    try:
        identity = identify(scope.get("session"), user, room)
    except GuestRefused as refusal:
        raise Refused(CloseCode.NOT_LOGGED_IN, refusal.code, refusal.message) from None
    if identity is None:
        raise Refused(CloseCode.NOT_LOGGED_IN, "not_logged_in", _("Log in to join this room."))
    who = identity.guest or user
    _check_not_barred(room, identity, client_address(scope))
    if not room_services.may_enter(who, room):
        raise Refused(CloseCode.ROOM_LOCKED, "room_locked", _("This room is locked; ask its owner to unlock it."))
    if identity.guest is None and not room_services.has_access(scope["session"], user, room):
        raise Refused(
            CloseCode.FORBIDDEN, "password_required", _("This room needs its password: enter it on the room page.")
        )
    info = {
        "slug": room.slug,
        "name": room.name,
        "audio_only": room.audio_only,
        "max_participants": room.max_participants,
        "recording": recording_selectors.is_recording(room),
        "mode": room.mode,
    }
    moderator = moderation_selectors.is_moderator(who, room)
    identity = dataclasses.replace(identity, moderator=moderator)
    # The chat history comes in the same database hop as the room: joins are hop-bound.
    history = chat_selectors.recent_messages(room.slug, this_meeting_only=identity.guest is not None)
    must_knock = room.knock and not moderator and not knocked
    return RoomTicket(room.slug, room.pk, room.max_participants, info, history, identity, must_knock)


def _check_not_barred(room: Room, identity: Identity, address: str) -> None:
    if moderation_selectors.is_barred(room, identity.user_id, identity.guest_id):
        raise Refused(CloseCode.FORBIDDEN, "banned", _(BANNED_TEXT))
    if moderation_selectors.is_invite_barred(room, identity.invite_id, address):
        raise Refused(
            CloseCode.FORBIDDEN,
            "invite_banned",
            _(
                "A guest who came in with this invite link from your address was removed from this room and barred. "
                "Ask the room's owner for a new link if you should be in it."
            ),
        )


@dataclass(frozen=True)
class Entry:
    """A connection cleared by the database to take a place in a room."""

    ticket: RoomTicket
    peer: Peer
    resumed: bool  # `peer.peer_id` came back from a resume token


async def check_entry(
    scope: dict[str, Any], slug: str, channel_name: str, knocked: bool = False, resume_token: str = ""
) -> Entry:
    """Check that the connection's person may join `slug`, in one database hop.

    Raises `Refused` with the close code to use, or `MustKnock` when the room asks newcomers
    to wait (`knocked`: a moderator already let this connection in). Nothing of the room has
    reached the connection yet: a knocking one never joins the room's group until let in.
    A valid `resume_token` (signaling/resume.py) gives back the peer id it names; any other
    is ignored and the peer gets a new id.
    """
    ticket = await _check_entry(scope, slug, knocked)
    who = ticket.identity
    resumed_id = resume.peer_id_from(resume_token, slug, who.key)
    peer = Peer(
        peer_id=resumed_id or secrets.token_urlsafe(8),
        name=who.name,
        user_id=who.user_id,
        channel_name=channel_name,
        person=who.key,
        address=client_address(scope),
        invite_id=who.invite_id,
    )
    if ticket.must_knock:
        raise MustKnock(peer, who)
    return Entry(ticket, peer, resumed_id is not None)


def sockets_per_person(sibling: str) -> PersonLimit:
    """One person's sockets in a room and at its door together: `ROOM_SOCKETS_PER_PERSON`."""
    return PersonLimit(settings.ROOM_SOCKETS_PER_PERSON, sibling)


BANNED_TEXT = gettext_noop("You were removed from this room and may not return.")


def presence_refusal(error: RoomFull | TooManyConnections | Barred, capacity: int) -> Refused:
    """Why presence would not take a place (in the room, or at its door)."""
    if isinstance(error, TooManyConnections):
        limit = settings.ROOM_SOCKETS_PER_PERSON
        return Refused(
            CloseCode.RATE_LIMITED,
            "too_many_connections",
            ngettext(
                "You already have %(limit)d connection to this room (another tab or device): "
                "close it, then reload this page.",
                "You already have %(limit)d connections to this room (other tabs or devices): "
                "close one, then reload this page.",
                limit,
            )
            % {"limit": limit},
        )
    if isinstance(error, Barred):
        return Refused(CloseCode.FORBIDDEN, "banned", _(BANNED_TEXT))
    full = _("This room is full (%(capacity)d people); try again later.") % {"capacity": capacity}
    return Refused(CloseCode.ROOM_FULL, "room_full", full)


async def take_place(slug: str, entry: Entry) -> Admission:
    """Take `entry`'s place in `slug`, atomically against capacity and the person's socket limit.

    Raises `Refused` (`room_full`, `too_many_connections`, `banned` when a moderator barred the
    person after the database check). On success the others in the room have been told, and
    `welcome` is the text to send.
    """
    ticket, peer = entry.ticket, entry.peer
    if ticket.info["mode"] == RoomMode.RELAY:
        await _ensure_relay(slug, ticket.info["audio_only"])
    try:
        limit = sockets_per_person(waiting_key(slug))
        others, replaced = await get_presence().resume(slug, peer, ticket.capacity, limit)
    except (RoomFull, TooManyConnections, Barred) as error:
        raise presence_refusal(error, ticket.capacity) from None
    try:
        return await _settle_in(slug, entry, others, replaced)
    except BaseException:
        # Redis (or the database) lost half-way through the join: give the place back, else it
        # stays listed as a ghost until its lease lapses (the 1012 brings the browser back).
        with contextlib.suppress(*BACKEND_ERRORS):
            await get_presence().leave(slug, peer.peer_id, only=peer, resumable=entry.resumed)
        raise


async def _settle_in(slug: str, entry: Entry, others: list[Peer], replaced: Peer | None) -> Admission:
    """The rest of a join once its place is taken: the welcome, and everyone else told."""
    ticket, peer, who = entry.ticket, entry.peer, entry.ticket.identity
    if replaced is not None:
        await _retire(slug, replaced)
    chat = ticket.chat
    if not others and not entry.resumed:  # the room was empty: a new meeting begins
        await _start_meeting(ticket.room_id)
        chat = chat if who.guest is None else []  # a guest sees no earlier meeting's chat
    states = await get_media_states().load(slug, [other.peer_id for other in others])
    active = await _mode_after_joining(slug, peer.peer_id, ticket.info, len(others))
    # Counting takes a cache (Redis) round trip: off the event loop, and only when TURN is offered.
    turn_refused = await sync_to_async(turn_refusal)(who.ice_user) if settings.TURN_URLS else None
    welcome = protocol.render_welcome(
        peer.peer_id,
        {**ticket.info, "active_mode": active},
        [other.public() for other in others],
        ice_servers_for(who.ice_user, with_turn=turn_refused is None),
        chat,
        states,
        (resume.issue(slug, peer.peer_id, who.key), settings.SIGNALING_RESUME_SECONDS, entry.resumed),
    )
    await group_send(slug, "room.peer_joined", peer.peer_id, protocol.render_peer_joined(peer.public()))
    await media_backend().person_joined(slug, peer.peer_id)
    if not entry.resumed:
        await events.participant_joined(slug, peer, first=not others)
    elif replaced is None:  # its old connection had left: in time, or not (signaling/events.py)
        await events.participant_returned(slug, peer, len(others))
    kind = "audio" if ticket.info["audio_only"] else "video"
    known = frozenset(other.peer_id for other in others)
    return Admission(
        peer=peer,
        welcome=welcome,
        room_kind=kind,
        identity=who,
        known=known,
        mode=ticket.info["mode"],
        resumed=entry.resumed,
        notices=() if turn_refused is None else (protocol.render_error(TURN_THROTTLED, turn_refused),),
    )


_start_meeting = database_sync_to_async(chat_services.start_meeting)


REPLACED = (
    "resumed_elsewhere",
    gettext_noop("This call went on in a newer connection (another tab, or after a reconnection)."),
)


async def _retire(slug: str, old: Peer) -> None:
    """A resumed peer id was still held by its old connection (not yet seen gone, or on a process
    that died): close that one without a second departure, and tell the room it left, resumably,
    so that the media worker drops its old link and everyone takes the peer-joined that follows
    as a return."""
    layer = get_channel_layer()
    assert layer is not None
    try:
        await layer.send(old.channel_name, {"type": "peer.replaced"})
    except ChannelFull:
        log.info("peer %s: its old connection is not reading; its process will drop it", old.peer_id)
    await group_send(slug, "room.peer_left", old.peer_id, protocol.render_peer_left(old.peer_id, resumable=True))
    await media_backend().person_left(slug, old.peer_id)


async def _ensure_relay(slug: str, audio_only: bool) -> None:
    """A relay room needs its worker before anyone is admitted; refuse clearly without one."""
    try:
        await media_backend().relay_room(slug, audio_only)
    except MediaUnavailable:
        raise Refused(
            CloseCode.RELAY_UNAVAILABLE,
            "relay_unavailable",
            _("This room sends media through the server's relay, and no media worker is running. Ask an operator."),
        ) from None


async def relay_signal(slug: str, sender: Peer, message: protocol.Signal) -> None:
    """Deliver an offer, answer or ICE candidate to one peer of the same room, `from` set to the sender.

    The reserved peer (`protocol.SERVER_PEER_ID`) is the media backend recording or relaying the room.
    """
    if message.to == protocol.SERVER_PEER_ID:
        await media_backend().signal(slug, sender.peer_id, protocol.render_signal(message, sender.peer_id))
        metrics.MESSAGES_RELAYED.labels(type=message.type).inc()
        return
    target = await get_presence().find(slug, message.to)
    if target is None or target.peer_id == sender.peer_id:
        raise ProtocolError(
            "unknown_peer", _("No peer %(peer)r in this room; it may have left.") % {"peer": message.to}
        )
    text = protocol.render_signal(message, sender.peer_id)
    # Same process (the common case with room affinity): straight to the target's socket.
    if not await hub.deliver(target.channel_name, text):
        layer = get_channel_layer()
        assert layer is not None
        try:
            await layer.send(target.channel_name, {"type": "peer.signal", "text": text})
        except ChannelFull:
            raise ProtocolError("busy", _("The server is too busy to deliver this message; send it again.")) from None
    metrics.MESSAGES_RELAYED.labels(type=message.type).inc()


@database_sync_to_async
def _store_chat(slug: str, peer: Peer, message: protocol.ChatSend) -> tuple[dict[str, Any], bool]:
    try:
        line, new = chat_services.post_message(
            slug, peer.user_id, peer.name, message.text, sender=peer.person, client_id=message.id
        )
    except chat_services.ChatRefused as refusal:
        raise ProtocolError(refusal.code, refusal.message, message.id) from None
    return chat_selectors.render(line), new


async def post_chat(slug: str, sender: Peer, message: protocol.ChatSend) -> str | None:
    """Store a chat line and send it to everyone in the room, the sender included.

    A line sent again under the same `id` (the browser's outbox, after a reconnect) is not
    stored or sent again: the stored line is returned, for the sender alone, as its answer."""
    line, new = await _store_chat(slug, sender, message)
    text = protocol.render_chat(sender.peer_id, line)
    if not new:
        return text
    await group_send(slug, "room.chat", sender.peer_id, text)
    metrics.CHAT_MESSAGES.inc()
    return None


async def announce_media_state(slug: str, sender: Peer, state: protocol.MediaState) -> None:
    """Keep `sender`'s media state for late joiners and tell everyone in the room, the sender included."""
    await get_media_states().save(slug, sender.peer_id, state.public())
    await group_send(slug, "room.media_state", sender.peer_id, protocol.render_media_state(sender.peer_id, state))


def record_call_stats(room_kind: str, stats: protocol.CallStats) -> None:
    """Export a browser's call-quality summary, aggregated by room kind and media path."""
    labels = {"room_kind": room_kind, "path": stats.path}
    metrics.CALL_REPORTS.labels(**labels).inc()
    if stats.rtt_ms is not None:
        metrics.CALL_RTT.labels(**labels).observe(stats.rtt_ms / 1000)
    if stats.packet_loss is not None:
        metrics.CALL_PACKET_LOSS.labels(**labels).observe(stats.packet_loss)
    for direction, kbps in (("in", stats.inbound_kbps), ("out", stats.outbound_kbps)):
        if kbps is not None:
            metrics.CALL_BITRATE.labels(room_kind=room_kind, direction=direction).observe(kbps)


async def leave_room(slug: str, peer: Peer, mode: str, resumable: bool = False) -> None:
    """Remove `peer` from presence and tell the others (and, in an `auto` room, maybe go back to a mesh).

    `mode` is the room's setting when the peer joined: only `auto` rooms read the room again,
    so a leave costs no database hop in the others. `resumable`: the connection dropped rather
    than hung up, so the peer may come back under its id. Nothing happens if the id has already
    resumed on another connection."""
    if not await get_presence().leave(slug, peer.peer_id, only=peer, resumable=resumable):
        return
    await get_media_states().forget(slug, peer.peer_id)
    await group_send(slug, "room.peer_left", peer.peer_id, protocol.render_peer_left(peer.peer_id, resumable))
    await media_backend().person_left(slug, peer.peer_id)
    if mode == RoomMode.AUTO:
        await _mode_after_leaving(slug, peer.peer_id)
    if not resumable:
        await events.participant_left(slug, peer)


# A heartbeat can fail without Redis being gone: under a join storm the event loop runs late and
# a connect times out. Only this many failures in a row close every socket with 1012.
OUTAGE_AFTER_FAILED_HEARTBEATS = 3


@dataclass
class _Upkeep:
    failed_heartbeats: int = 0


_upkeep = _Upkeep()


async def maintain_presence() -> None:
    """Renew this process's leases, announce peers of dead processes as gone, and report those
    whose resume window closed (`events.settle_departures`).

    If the shared backend stays unreachable for `OUTAGE_AFTER_FAILED_HEARTBEATS` heartbeats,
    close every local socket with 1012: browsers reconnect with backoff instead of sitting in
    a room nobody can see.
    """
    presence = get_presence()
    try:
        await presence.renew()
        gone = await presence.sweep()
    except BACKEND_ERRORS as error:
        _upkeep.failed_heartbeats += 1
        if _upkeep.failed_heartbeats < OUTAGE_AFTER_FAILED_HEARTBEATS:
            log.warning("presence heartbeat failed (%s); retrying before closing sockets", error)
            return
        log.warning("presence backend unreachable (%s): closing %d sockets", error, len(hub.connections))
        await hub.close_all(CloseCode.SERVICE_RESTART, *UNAVAILABLE)
        return
    _upkeep.failed_heartbeats = 0
    try:
        for slug, peers in gone.items():
            for peer in peers:
                log.info("peer %s of room %s lapsed (its process stopped)", peer.peer_id, slug)
                # Its browser reconnects to a surviving process and may resume its peer id.
                text = protocol.render_peer_left(peer.peer_id, resumable=True)
                await group_send(slug, "room.peer_left", peer.peer_id, text)
                await media_backend().person_left(slug, peer.peer_id)
    except BACKEND_ERRORS as error:
        # Redis went between the sweep and the news: the room's sockets are closed with 1012
        # (the channel layer lost it too) and their welcome, on return, lists who is there.
        log.warning("could not announce lapsed peers (%s)", error)
        return
    # Those who dropped and did not come back in time: gone for good (participant.left).
    await events.settle_departures()


# `auto` rooms: mesh while small, relay above a threshold (rooms.selectors.active_mode) ------


async def _mode_after_joining(slug: str, peer_id: str, info: dict[str, Any], others: int) -> str:
    """The room's media path now that one more is in. Crossing into relay, everyone is told
    first (so no offer from the worker arrives before the news), then the worker starts; if
    none takes the room, it goes on as a mesh (heavier, but it works)."""
    active = room_selectors.active_mode(info["mode"], info["audio_only"], others + 1)
    was = room_selectors.active_mode(info["mode"], info["audio_only"], others)
    if info["mode"] != RoomMode.AUTO or active == was:
        return active
    await group_send(slug, "room.media_mode", peer_id, protocol.render_media_mode(active))
    try:
        await media_backend().relay_room(slug, info["audio_only"])
    except MediaUnavailable:
        log.warning("room %s: no media worker to relay it; staying a mesh", slug)
        await group_send(slug, "room.media_mode", peer_id, protocol.render_media_mode(RoomMode.MESH))
        return RoomMode.MESH
    return active


@database_sync_to_async
def _room_media(slug: str) -> tuple[str, bool] | None:
    room = Room.objects.filter(slug=slug).only("mode", "audio_only").first()
    return (room.mode, room.audio_only) if room is not None else None


async def _mode_after_leaving(slug: str, peer_id: str) -> None:
    """An `auto` room that shrinks to the threshold goes back to a mesh: browsers first, then the worker."""
    media = await _room_media(slug)
    if media is None or media[0] != RoomMode.AUTO:
        return
    mode, audio_only = media
    people = len(await get_presence().members(slug))
    now = room_selectors.active_mode(mode, audio_only, people)
    was = room_selectors.active_mode(mode, audio_only, people + 1)
    if people and now == RoomMode.MESH and was == RoomMode.RELAY:
        await group_send(slug, "room.media_mode", peer_id, protocol.render_media_mode(now))
        await media_backend().release_room(slug)
