"""Channel-layer names of a room, and room-wide news: the one place that names them.

It imports nothing of the apps (only `signaling.media`, the seam, to tell the media backend a room
closed), so signaling's services, `rooms.services` (closing or deleting a room, from synchronous
code) and the media backends (news such as a recording that stopped) all reach a room the same
way, without importing each other. Room slugs never contain a dot, so
these names never clash with a room's own keys.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from signaling.media import media_backend


def room_group(slug: str) -> str:
    """The channel-layer group of everyone admitted to room `slug`."""
    return f"room.{slug}"


def waiting_key(slug: str) -> str:
    """Presence key, and channel-layer group, of the people knocking at room `slug`."""
    return f"waiting.{slug}"


def moderators_group(slug: str) -> str:
    """The channel-layer group of the moderators in room `slug`: they see the waiting list."""
    return f"moderators.{slug}"


async def group_send(slug: str, event_type: str, peer_id: str, text: str) -> None:
    """Room news for every member of `slug`, on every process."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(room_group(slug), {"type": event_type, "peer_id": peer_id, "slug": slug, "text": text})


async def close_room(slug: str, code: str, sentence: str, params: dict[str, str] | None = None) -> None:
    """Close every connection in room `slug` and at its door with the error `code`, and stop
    relaying and recording it. `sentence` is English (a msgid, `params` for its placeholders):
    each connection translates it into its own language."""
    layer = get_channel_layer()
    assert layer is not None
    event = {"type": "room.closed", "code": code, "sentence": sentence, "params": params or {}, "slug": slug}
    for group in (room_group(slug), waiting_key(slug)):  # those waiting to be let in too
        await layer.group_send(group, event)
    await media_backend().room_closed(slug)


def disconnect_room(slug: str, reason: str) -> None:
    """Close every connection in room `slug` (4410), from synchronous code such as commands.
    `reason`: an English sentence, translated for each connection when it is in the catalog."""
    if get_channel_layer() is None:
        return
    async_to_sync(close_room)(slug, "room_closed", reason)
