"""Mesh rooms: a pair whose direct connection failed goes through the media backend.

A browser whose connection to someone stays down after an ICE restart sends `relay-fallback`;
the backend (`signaling.media`; the aiortc worker: mediaworker/relay.py, `pairs_only`) then
carries just that pair's media and tells both browsers itself (`relay-fallback` from `server`,
then its offer), or tells the one who asked why it cannot (`relay_full`, `relay_unavailable`).
"""

from django.utils.translation import gettext as _

from rooms import selectors as room_selectors
from rooms.models import RoomMode
from signaling import protocol
from signaling.media import MediaUnavailable, media_backend
from signaling.presence import Peer, get_presence
from signaling.protocol import ProtocolError


async def request_fallback(
    slug: str, sender: Peer, message: protocol.RelayFallback, mode: str, audio_only: bool
) -> None:
    """Have the worker relay `sender` and `message.peer_id`, who must be someone else in the room.

    `mode` is the room's setting and `audio_only` its kind, as the sender was admitted. Raises
    `ProtocolError`: `unknown_peer`, `not_mesh` (media already goes through the relay) or
    `relay_unavailable` (no worker took the room)."""
    members = await get_presence().members(slug)
    partner = next((peer for peer in members if peer.peer_id == message.peer_id), None)
    if partner is None or partner.peer_id == sender.peer_id:
        raise ProtocolError(
            "unknown_peer", _("No peer %(peer)r in this room; it may have left.") % {"peer": message.peer_id}
        )
    if room_selectors.active_mode(mode, audio_only, len(members)) != RoomMode.MESH:
        raise ProtocolError("not_mesh", _("Media in this room already goes through the relay."))
    try:
        await media_backend().relay_pair(slug, sender.peer_id, partner.peer_id, audio_only)
    except MediaUnavailable:
        raise ProtocolError(
            "relay_unavailable",
            _(
                "The direct connection to %(name)s failed, and no media worker is running to relay it. "
                "Ask an operator, or try another network."
            )
            % {"name": partner.name},
        ) from None
