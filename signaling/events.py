"""Webhook events of people joining and leaving (api/webhooks.py): queued here, sent in the background.

`room.started` comes with the first person in, `room.ended` with the last one out. A
connection that dropped may resume its place for `SIGNALING_RESUME_SECONDS`: its departure
is kept in presence (`Departure`) and becomes `participant.left` only once that window has
closed without a resume (`settle_departures`, run by every process's presence chore; the
one that claims a departure reports it). Someone who dropped and may still come back keeps
the room going: it neither ends nor starts again meanwhile.
"""

from typing import Any

from api import webhooks
from signaling.presence import Departure, Peer, get_presence


def _person(slug: str, peer: Peer) -> dict[str, Any]:
    return {"room": slug, "peer_id": peer.peer_id, "name": peer.name, "guest": peer.user_id is None}


async def participant_joined(slug: str, peer: Peer, first: bool) -> None:
    """`participant.joined` (after `room.started` for the first one in)."""
    if not await webhooks.wanted():
        return
    first = first and not await get_presence().departing(slug)
    started = [("room.started", {"room": slug})] if first else []
    await webhooks.announce(*started, ("participant.joined", _person(slug, peer)))


async def participant_left(slug: str, peer: Peer) -> None:
    """`participant.left` (then `room.ended` when nobody is left, nor may come back)."""
    if not await webhooks.wanted():
        return
    presence = get_presence()
    empty = not await presence.members(slug) and not await presence.departing(slug)
    ended = [("room.ended", {"room": slug})] if empty else []
    await webhooks.announce(("participant.left", _person(slug, peer)), *ended)


async def participant_returned(slug: str, peer: Peer, others: int) -> None:
    """A peer resumed its id. In time (its departure still kept) nothing happened to the
    outside. After its window closed, its departure was (or is being) reported: it left, and
    now it joins again. With no departure kept, its earlier leave was final and reported."""
    departure = await get_presence().take_back(slug, peer.peer_id)
    if departure is not None and not departure.overdue:
        return
    if departure is not None:
        await _report(departure, ended=False, strict=False)  # `once`: not twice if a settler got there first
    await participant_joined(slug, peer, first=not others)


async def settle_departures() -> None:
    """`participant.left` (and `room.ended` when it was the last) for each peer whose resume
    window closed; exactly once across processes (presence claims each for one process, and the
    events are queued `once` under the departure's name, should a claim run out and be given
    again). A failure leaves the departure to be claimed again."""
    presence = get_presence()
    for departure in await presence.lapsed_departures():
        await _report(departure, ended=departure.others == 0, strict=True)
        await presence.settled(departure)


async def _report(departure: Departure, ended: bool, strict: bool) -> None:
    slug, peer = departure.room, departure.peer
    end = [("room.ended", {"room": slug})] if ended else []
    left = ("participant.left", _person(slug, peer))
    await webhooks.announce(left, *end, once=f"departure {slug} {peer.peer_id}", strict=strict)
