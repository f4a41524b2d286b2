"""The aiortc media worker as signaling's media backend (`signaling.media.MediaBackend`).

Each call goes, through `mediaworker.dispatch`, to the worker holding the room's lease, or to
`mediaworker.control` for whichever worker takes the room: a task in this process on the
embedded default, the `manage.py mediaworker` process over the channel layer (Redis) when
REDIS_URL is set. The worker answers browsers itself, as `server`.
"""

from mediaworker import dispatch


class AiortcBackend:
    """Relays and recordings by the aiortc worker; see `signaling.media.MediaBackend`."""

    async def relay_room(self, slug: str, audio_only: bool) -> None:
        await dispatch.ensure_relay(slug, audio_only)

    async def release_room(self, slug: str) -> None:
        await dispatch.stop_relay(slug)

    async def signal(self, slug: str, sender: str, text: str) -> None:
        await dispatch.relay_to_worker(slug, sender, text)

    async def relay_pair(self, slug: str, asking: str, partner: str, audio_only: bool) -> None:
        await dispatch.relay_pair(slug, asking, partner, audio_only)

    async def start_recording(self, slug: str, recording_id: int) -> None:
        await dispatch.start_worker(slug, recording_id)

    async def stop_recording(self, slug: str, recording_id: int) -> None:
        await dispatch.stop_worker(slug, recording_id)
