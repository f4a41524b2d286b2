"""Webhook events of people joining and leaving (api/webhooks.py): queued here, sent in the background.

`room.started` comes with the first person in, `room.ended` with the last one out. A
connection that dropped may resume its place, so only a final leave is an event.
"""

from typing import Any

from api import webhooks
from signaling.presence import Peer, get_presence


def _person(slug: str, peer: Peer) -> dict[str, Any]:
    return {"room": slug, "peer_id": peer.peer_id, "name": peer.name, "guest": peer.user_id is None}


async def participant_joined(slug: str, peer: Peer, first: bool) -> None:
    """`participant.joined` (after `room.started` for the first one in)."""
    started = [("room.started", {"room": slug})] if first else []
    await webhooks.announce(*started, ("participant.joined", _person(slug, peer)))


async def participant_left(slug: str, peer: Peer) -> None:
    """`participant.left` (then `room.ended` when nobody is left)."""
    if not await webhooks.wanted():
        return
    ended = [] if await get_presence().members(slug) else [("room.ended", {"room": slug})]
    await webhooks.announce(("participant.left", _person(slug, peer)), *ended)
