"""Reads of live signaling state for synchronous code (the REST API): who is in a room now."""

from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync

from signaling.mediastate import get_media_states
from signaling.presence import get_presence


@dataclass(frozen=True)
class Participant:
    """One admitted connection as presence knows it, with its last `media-state` (or {})."""

    peer_id: str
    name: str
    guest: bool  # no account here: an invited guest or a join token's person
    media: dict[str, Any]


async def _participants(slug: str) -> list[Participant]:
    peers = await get_presence().members(slug)
    states = await get_media_states().load(slug, [peer.peer_id for peer in peers])
    return [
        Participant(peer.peer_id, peer.name, peer.user_id is None, states.get(peer.peer_id, {}))
        for peer in sorted(peers, key=lambda peer: peer.name.lower())
    ]


def participants(slug: str) -> list[Participant]:
    """Everyone admitted to room `slug` right now, by name (those knocking are not in it yet)."""
    return async_to_sync(_participants)(slug)
