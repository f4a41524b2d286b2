"""Moderation and knock-to-enter on live connections, for the room socket.

`moderation.services` decides who may act and keeps the audit log; this module
acts on the connections, wherever they live: a person is reached through the
channel layer by their channel name (`peer.*` events), the room through its
group, the moderators through `moderators.<slug>`. Waiting newcomers are kept in
presence under `waiting.<slug>` (never the room's own key), so they take no
place and are not listed, yet every process can find them.
"""

import logging
from typing import Any, Literal

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from api import webhooks
from moderation import services as moderation_services
from moderation.services import Actor, Delegate, ModerationRefused, Target
from signaling import protocol
from signaling.groups import close_room, moderators_group, room_group, waiting_key
from signaling.presence import NO_LIMIT, Peer, PersonLimit, RoomFull, get_presence
from signaling.protocol import ProtocolError

log = logging.getLogger(__name__)

MAX_WAITING = 200
# How long presence refuses a person just barred (`Presence.bar`): only joins already past the
# database's ban check are caught by it, and they take a place within moments.
BAR_MARKER_SECONDS = 60.0
Outcome = Literal["admitted", "denied", "left"]
WAITING_MESSAGE = gettext_noop("Waiting for a moderator to let you in…")


def _layer() -> Any:
    layer = get_channel_layer()
    assert layer is not None
    return layer


async def _to_peer(channel_name: str, event: dict[str, Any]) -> None:
    """One connection, on whichever process serves it."""
    await _layer().send(channel_name, event)


async def _to_moderators(slug: str, text: str) -> None:
    await _layer().group_send(moderators_group(slug), {"type": "room.notice", "text": text})


async def _authorized(call: Any, *args: Any) -> str:
    try:
        name: str = await database_sync_to_async(call)(*args)
    except ModerationRefused as refusal:
        raise ProtocolError(refusal.code, refusal.message) from None
    return name


async def moderate(slug: str, actor: Peer, message: protocol.Moderate, delegate: Delegate | None = None) -> None:
    """Carry out a moderator's `moderate` message, or raise `ProtocolError` (`not_moderator`…).

    `delegate`: the actor moderates by a join token's grant, not as a user (identity.py)."""
    by: Actor = delegate or actor.user_id
    if message.action in protocol.ROOM_ACTIONS:
        await act_on_room(slug, by, message.action)
    elif message.action in ("admit", "deny"):
        await _answer_knock(slug, by, message)
    else:
        await act_on_person(slug, by, message, exclude=actor.peer_id, exclude_person=actor.person)


async def act_on_person(
    slug: str, actor: Actor, message: protocol.Moderate, exclude: str = "", exclude_person: str = ""
) -> None:
    """Mute, ask to mute or remove the person `message.peer_id`: never `exclude` (the actor's own
    peer id) nor another socket of `exclude_person` (the actor's own other tabs)."""
    removing = message.action in ("remove", "remove_and_bar")
    presence = get_presence()
    # Removing also reaches someone whose socket dropped a moment ago (their browser is about
    # to reconnect): they are barred all the same, and their other sockets closed.
    target = await (presence.find_recent if removing else presence.find)(slug, message.peer_id or "")
    if target is None or target.peer_id == exclude or (target.person and target.person == exclude_person):
        # Not found is checked first, but the rights are checked before anything happens. A
        # moderator's own other tab is not "someone else": removing it would close this one too.
        await _authorized(moderation_services.authorize_name, slug, actor)
        raise ProtocolError(
            "unknown_peer", _("No one else with peer id %(peer)r is in this room.") % {"peer": message.peer_id}
        )
    who = Target(
        name=target.name,
        user_id=target.user_id,
        guest_id=target.guest_id,
        peer_id=target.peer_id,
        invite_id=target.invite_id,
        address=target.address,
    )
    by = await _authorized(moderation_services.act_on_person, slug, actor, message.action, who, message.withdraw_invite)
    if not removing:
        text = protocol.render_mute(message.action == "mute", by)
        await _to_peer(target.channel_name, {"type": "peer.notice", "text": text})
        return
    barred = message.action == "remove_and_bar"
    if barred and target.person:
        # Before looking for their sockets: a join of theirs already past its ban check in the
        # database, not yet in presence, is refused when it takes its place.
        await presence.bar(slug, target.person, BAR_MARKER_SECONDS)
    if barred:
        sentence = gettext_noop("%(by)s removed you from the meeting. You may not return to this room.")
    else:
        sentence = gettext_noop("%(by)s removed you from the meeting.")
    # English with its parameters: the removed person's socket translates it (signaling/language.py).
    event = {
        "type": "peer.removed",
        "code": "banned" if barred else "removed",
        "sentence": sentence,
        "params": {"by": by},
    }
    for socket in await sockets_of(slug, target):
        await _to_peer(socket.channel_name, event)


async def sockets_of(slug: str, target: Peer) -> list[Peer]:
    """Every connection of `target`'s person in room `slug`, admitted or waiting at its door
    (`target` itself if it is still there), on whichever process serves them."""
    if not target.person:
        return [target]
    presence = get_presence()
    found = [*await presence.members(slug), *await presence.members(waiting_key(slug))]
    return [peer for peer in found if peer.person == target.person]


async def act_on_room(slug: str, actor: Actor, action: str) -> None:
    """Lock, unlock or end the meeting in room `slug` for everyone in it."""
    by = await _authorized(moderation_services.act_on_room, slug, actor, action)
    if action == "end":
        await close_room(slug, "meeting_ended", gettext_noop("%(by)s ended the meeting for everyone."), {"by": by})
        return
    text = protocol.render_room_locked(action == "lock", by)
    await _layer().group_send(room_group(slug), {"type": "room.notice", "text": text, "slug": slug})


# Knock to enter -------------------------------------------------------------------


async def start_waiting(slug: str, peer: Peer, limit: PersonLimit = NO_LIMIT) -> None:
    """Put a newcomer on the waiting list and tell the moderators (`knocking`). `limit`: the
    person's sockets at the door and in the room together (`ROOM_SOCKETS_PER_PERSON`)."""
    try:
        await get_presence().admit(waiting_key(slug), peer, MAX_WAITING, limit)
    except RoomFull:
        raise ProtocolError("room_full", _("Too many people are waiting to join this room; try later.")) from None
    await _layer().group_add(waiting_key(slug), peer.channel_name)
    await _to_moderators(slug, protocol.render_knocking(peer.public()))
    await webhooks.announce(("knock", {"room": slug, "peer_id": peer.peer_id, "name": peer.name}))


async def stop_waiting(slug: str, peer: Peer, outcome: Outcome) -> None:
    """Take a newcomer off the waiting list (idempotent) and tell the moderators."""
    await get_presence().leave(waiting_key(slug), peer.peer_id)
    await _layer().group_discard(waiting_key(slug), peer.channel_name)
    if outcome == "left":
        await _to_moderators(slug, protocol.render_knock_withdrawn(peer.peer_id, outcome))


async def waiting_list(slug: str) -> list[str]:
    """`knocking` messages for everyone waiting now, for a moderator who just arrived."""
    return [protocol.render_knocking(peer.public()) for peer in await get_presence().members(waiting_key(slug))]


async def _answer_knock(slug: str, actor: Actor, message: protocol.Moderate) -> None:
    waiter = await get_presence().find(waiting_key(slug), message.peer_id or "")
    if waiter is None:
        await _authorized(moderation_services.authorize_name, slug, actor)
        raise ProtocolError("unknown_peer", _("That person is no longer waiting: they left or were answered."))
    who = Target(name=waiter.name, user_id=waiter.user_id, peer_id=waiter.peer_id)
    by = await _authorized(moderation_services.act_on_person, slug, actor, message.action, who)
    # Off the list first: a second moderator answering at the same time finds nobody.
    await get_presence().leave(waiting_key(slug), waiter.peer_id)
    outcome: Outcome = "admitted" if message.action == "admit" else "denied"
    if outcome == "admitted":
        await _to_peer(waiter.channel_name, {"type": "peer.admitted"})
    else:
        sentence = gettext_noop("%(by)s did not let you in to this meeting.")
        event = {"type": "peer.removed", "code": "knock_denied", "sentence": sentence, "params": {"by": by}}
        await _to_peer(waiter.channel_name, event)
    await _to_moderators(slug, protocol.render_knock_withdrawn(waiter.peer_id, outcome))
