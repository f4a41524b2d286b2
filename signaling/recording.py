"""Recording a call, from the call page: the owner starts and stops it, the media backend records.

The consumer calls `control_recording`; the Recording row is written by `mediaworker.services`,
and the media backend serving the room (`signaling.media`) says whether it can carry it.
"""

from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from accounts.models import User
from api import webhooks
from mediaworker import services as recording_services
from mediaworker.models import Recording
from moderation.services import Actor, Delegate
from rooms import services as room_services
from rooms.models import Room
from signaling import protocol
from signaling.groups import group_send
from signaling.media import MediaRefused, MediaUnavailable, media_backend
from signaling.presence import Peer, get_presence
from signaling.protocol import ProtocolError


@dataclass(frozen=True)
class RecordingChange:
    recording_id: int
    by: str


def _recording_actor(room: Room | None, actor: Actor) -> tuple[User | None, str]:
    """Who records: the room's owner (or staff), or a delegate for that room (an API key)."""
    if room is not None and isinstance(actor, Delegate) and actor.slug == room.slug:
        return None, actor.public_name
    user = User.objects.filter(pk=actor).first() if room and isinstance(actor, int) else None
    if room is None or user is None or not room_services.can_manage(user, room):
        raise ProtocolError("forbidden", _("Only the room's owner can start or stop recording."))
    return user, user.public_name


@database_sync_to_async
def _change_recording(slug: str, actor: Actor, action: str, participants: int) -> RecordingChange:
    room = Room.objects.select_related("owner").filter(slug=slug).first()
    user, by = _recording_actor(room, actor)
    assert room is not None
    try:
        if action == "start":
            streams = participants * (1 if room.audio_only else 2)
            recording = recording_services.start_recording(room, user, expected_streams=streams)
        else:
            recording = recording_services.stop_recording(room)
    except recording_services.RecordingRefused as refusal:
        raise ProtocolError(refusal.code, refusal.message) from None
    return RecordingChange(recording_id=recording.pk, by=by)


@database_sync_to_async
def _worker_missing(recording_id: int, reason: str) -> None:
    recording = Recording.objects.get(pk=recording_id)
    recording_services.fail_recording(recording, reason)


@database_sync_to_async
def _worker_refused(recording_id: int) -> None:
    """The worker could not carry it: nothing was recorded, so no recording is listed."""
    recording_services.delete_recording(Recording.objects.get(pk=recording_id))


async def control_recording(slug: str, peer: Peer, message: protocol.RecordingControl) -> None:
    """The owner starts or stops recording the room; everyone in it is told who did.

    Raises `ProtocolError` (`forbidden` for anyone else, `recording_unavailable` when it cannot).
    """
    await change_recording(slug, peer.user_id, message.action, peer.peer_id)


async def change_recording(slug: str, actor: Actor, action: str, origin: str = "") -> int:
    """Start or stop recording `slug` as `actor` (a user id, or a `Delegate` such as an API key),
    telling everyone in the room; returns the recording's id. `origin`: the actor's peer id, if any.
    Raises `ProtocolError` as `control_recording` does."""
    participants = len(await get_presence().members(slug))
    change = await _change_recording(slug, actor, action, participants)
    if action == "start":
        try:
            await media_backend().start_recording(slug, change.recording_id)
        except MediaUnavailable:
            await _worker_missing(change.recording_id, "No media worker took the recording.")
            raise ProtocolError(
                "recording_unavailable", _("Recording is unavailable: no media worker is running. Ask an operator.")
            ) from None
        except MediaRefused as refusal:  # at capacity, counting what it relays; no disk
            await _worker_refused(change.recording_id)
            # The worker's sentence is English (it may run in another process): translate it here.
            raise ProtocolError(refusal.code, _(refusal.message)) from None
        await webhooks.announce(
            ("recording.started", {"room": slug, "recording_id": change.recording_id, "by": change.by})
        )
    else:
        await media_backend().stop_recording(slug, change.recording_id)
    text = protocol.render_recording(action == "start", change.by)
    await group_send(slug, "room.recording", origin, text)
    return change.recording_id
