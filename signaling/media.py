"""The media seam: everything signaling asks of whatever carries media through the server.

Signaling calls a `MediaBackend` (from `media_backend()`) and nothing else of a media server;
a backend imports this module, `signaling.protocol`, `signaling.presence` and
`signaling.groups`, never signaling's services. Which backend serves is chosen here, once, from
settings: the aiortc worker (`mediaworker.backend.AiortcBackend`: in this process on the
embedded default, over the channel layer to `manage.py mediaworker` with REDIS_URL), or, when
JANUS_URLS is set, Janus (`sfu.backend.JanusBackend`) for relay rooms, with the aiortc worker
still recording mesh rooms and carrying failed mesh pairs.

What a backend sends back does not come through this interface: its offers and candidates go,
from the reserved peer `protocol.SERVER_PEER_ID`, to a browser's channel as `peer.signal`
{text} (the consumer forwards the text); news for a whole room (`recording` stopped at a limit)
goes to the room's group (`signaling.groups.group_send`); a refusal it can tell one person
(`relay_full`) goes to that person's channel as an `error`.
"""

import functools
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

AIORTC_BACKEND = "mediaworker.backend.AiortcBackend"
JANUS_BACKEND = "sfu.backend.JanusBackend"


class MediaUnavailable(Exception):
    """No media server took the room in time (none is running, or all are gone)."""


class MediaRefused(Exception):
    """The media server cannot carry what was asked (at capacity, no disk); `message` says why,
    for the person who asked, with its error `code`."""

    def __init__(self, message: str, code: str = "recording_unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class MediaBackend(Protocol):
    """What a relay does for signaling. Every method may raise `MediaUnavailable` where its
    docstring says so; none blocks on the media itself (negotiation goes on afterwards)."""

    async def relay_room(self, slug: str, audio_only: bool) -> None:
        """Carry everyone's media in room `slug` (a `relay` room's admission, or an `auto` room
        crossing its threshold): the backend offers to each person admitted, now and later.
        Raises `MediaUnavailable` if no media server takes the room."""

    async def release_room(self, slug: str) -> None:
        """Stop relaying room `slug` (an `auto` room back to a mesh); its recording goes on."""

    async def person_joined(self, slug: str, peer_id: str) -> None:
        """`peer_id` was admitted to room `slug` (in presence, and the room told): a backend relaying
        or recording the room offers them a connection; for any other room, nothing."""

    async def person_left(self, slug: str, peer_id: str) -> None:
        """`peer_id` left room `slug` (hung up, dropped, replaced by a resume, or lapsed with its
        process): a backend serving the room closes their connections, and lets the room go
        once nobody is left."""

    async def room_closed(self, slug: str) -> None:
        """Room `slug` was closed or deleted, or its meeting ended: stop relaying and recording it
        (the recording's composite still gets made)."""

    async def signal(self, slug: str, sender: str, text: str) -> None:
        """A browser's offer, answer or candidate (`text`, rendered with `from` = `sender`) to the
        reserved peer `server`. Raises `protocol.ProtocolError` (`unknown_peer`) if no media
        server serves the room."""

    async def relay_pair(self, slug: str, asking: str, partner: str, audio_only: bool) -> None:
        """Carry the media between two people of mesh room `slug` whose direct connection failed
        (`asking` asked); the backend tells both itself, or `asking` why it cannot (`relay_full`).
        Raises `MediaUnavailable` if no media server takes the room."""

    async def start_recording(self, slug: str, recording_id: int) -> None:
        """Record room `slug` into Recording `recording_id` (its row exists, status recording).
        Raises `MediaUnavailable` if no media server answers in time, `MediaRefused` if the one
        serving the room cannot carry it."""

    async def stop_recording(self, slug: str, recording_id: int) -> None:
        """Stop recording room `slug`: the files close and the composite gets made, even when
        the media server that recorded it is gone."""


@functools.cache
def media_backend() -> MediaBackend:
    """The media backend this process uses, chosen from settings (one instance per process):
    Janus when JANUS_URLS is set, else the aiortc worker."""
    backend: MediaBackend = import_string(JANUS_BACKEND if settings.JANUS_URLS else AIORTC_BACKEND)()
    return backend
