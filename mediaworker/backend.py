"""The aiortc media worker as signaling's media backend (`signaling.media.MediaBackend`).

Each call goes, through `mediaworker.dispatch`, to the worker holding the room's lease, or to
`mediaworker.control` for whichever worker takes the room: a task in this process on the
embedded default, the `manage.py mediaworker` process over the channel layer (Redis) when
REDIS_URL is set. The worker answers browsers itself, as `server`.
"""

from typing import TYPE_CHECKING

from mediaworker import dispatch

if TYPE_CHECKING:
    from signaling.media import MediaBackend


class AiortcBackend:
    """Relays and recordings by the aiortc worker; see `signaling.media.MediaBackend`."""

    async def relay_room(self, slug: str, audio_only: bool) -> None:
        await dispatch.ensure_relay(slug, audio_only)

    async def release_room(self, slug: str) -> None:
        await dispatch.stop_relay(slug)

    async def person_joined(self, slug: str, peer_id: str) -> None:
        await dispatch.tell_holder(slug, {"type": "worker.peer_joined", "slug": slug, "peer_id": peer_id})

    async def person_left(self, slug: str, peer_id: str) -> None:
        await dispatch.tell_holder(slug, {"type": "worker.peer_left", "slug": slug, "peer_id": peer_id})

    async def room_closed(self, slug: str) -> None:
        await dispatch.tell_holder(slug, {"type": "worker.stop", "slug": slug, "what": "room"})

    async def signal(self, slug: str, sender: str, text: str) -> None:
        await dispatch.relay_to_worker(slug, sender, text)

    async def relay_pair(self, slug: str, asking: str, partner: str, audio_only: bool) -> None:
        await dispatch.relay_pair(slug, asking, partner, audio_only)

    async def start_recording(self, slug: str, recording_id: int) -> None:
        await dispatch.start_worker(slug, recording_id)

    async def stop_recording(self, slug: str, recording_id: int) -> None:
        await dispatch.stop_worker(slug, recording_id)


if TYPE_CHECKING:  # mypy checks that the worker implements the whole seam
    _CONFORMS: MediaBackend = AiortcBackend()
