"""Recording business rules: start, stop, track files, the composite, retention.

Signaling (the owner's start/stop), the worker (track files) and the management
commands call these; the worker runs `composite_recording` in a thread after a stop.
"""

import logging
import secrets
import subprocess
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from api import webhooks
from chat import services as chat_services
from mediaworker import compositor, metrics, selectors
from mediaworker.models import Recording, RecordingTrack
from rooms.models import Room

log = logging.getLogger(__name__)
COMPOSITE_TIMEOUT_SECONDS = 3600


class RecordingRefused(Exception):
    """The recording cannot start or stop; `message` says why, for the person who asked, and
    `code` is the `error` code the owner's page gets (docs/protocol.md, Recording)."""

    def __init__(self, message: str, code: str = "recording_unavailable") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def start_recording(room: Room, user: User | None, expected_streams: int) -> Recording:
    """Open a recording of `room`, unless one is running or the worker has no room for its streams."""
    if selectors.is_recording(room):
        raise RecordingRefused(_("This call is already being recorded."))
    check_capacity(selectors.live_stream_count(), expected_streams)
    check_free_disk()
    try:
        with transaction.atomic():
            recording = Recording.objects.create(
                room=room, started_by=user, started=timezone.now(), directory=secrets.token_urlsafe(24)
            )
    except IntegrityError:
        raise RecordingRefused(_("This call is already being recorded.")) from None
    metrics.RECORDINGS_STARTED.inc()
    return recording


def check_capacity(streams_now: int, expected_streams: int) -> None:
    """Refuse a recording that would take a worker carrying `streams_now` (recorded and relayed)
    over MEDIAWORKER_MAX_STREAMS."""
    limit = settings.MEDIAWORKER_MAX_STREAMS
    if streams_now + expected_streams > limit:
        raise RecordingRefused(
            _("Recording is unavailable: the media worker is at capacity (%(limit)d streams). Try again later.")
            % {"limit": limit}
        )


def check_free_disk() -> None:
    """Refuse (`recording_disk_full`) when less than RECORDING_MIN_FREE_MB is free under MEDIA_ROOT."""
    if selectors.disk_running_out():
        raise RecordingRefused(_(DISK_FULL_SENTENCE), code="recording_disk_full")


DISK_FULL_SENTENCE = gettext_noop(
    "Recording is unavailable: the server is running out of disk space for recordings. "
    "Ask an operator to free some, or delete old recordings."
)


def stop_recording(room: Room) -> Recording:
    """Close the running recording of `room`; its composite is made next, in the background."""
    recording = selectors.active_recording(room)
    if recording is None:
        raise RecordingRefused(_("This call is not being recorded."))
    return _close(recording, Recording.Status.PROCESSING)


def end_recording(recording_id: int) -> None:
    """The worker stops a recording itself (its time limit, the disk): closed now, as by the owner."""
    recording = Recording.objects.filter(pk=recording_id, status=Recording.Status.RECORDING).first()
    if recording is not None:
        _close(recording, Recording.Status.PROCESSING)


def fail_recording(recording: Recording, error: str) -> Recording:
    """Mark `recording` failed with a reason the owner can read."""
    recording.error = error
    metrics.RECORDINGS_FAILED.inc()
    with transaction.atomic():  # the event is queued with the change it reports, or neither
        _close(recording, Recording.Status.FAILED)
        webhooks.emit("recording.failed", webhooks.recording_data(recording))
    return recording


def _close(recording: Recording, status: str) -> Recording:
    now = timezone.now()
    recording.ended = recording.ended or now
    recording.duration = max(0.0, (recording.ended - recording.started).total_seconds())
    recording.status = status
    recording.save(update_fields=["ended", "duration", "status", "error"])
    return recording


def open_track(recording_id: int, peer_id: str, name: str, kind: str, path: Path, start_offset: float) -> int:
    """Note a participant's track file as soon as its first frame is written (it survives a crash)."""
    track = RecordingTrack.objects.create(
        recording_id=recording_id,
        peer_id=peer_id,
        name=name,
        kind=kind,
        file=path.name,
        start_offset=round(start_offset, 3),
    )
    return track.pk


def close_track(track_id: int, end_offset: float) -> None:
    RecordingTrack.objects.filter(pk=track_id).update(end_offset=round(end_offset, 3))


def composite_recording(recording_id: int) -> Recording:
    """Mix the track files of a stopped recording into one file (ffmpeg); READY or FAILED."""
    recording = Recording.objects.get(pk=recording_id)
    directory = selectors.recording_directory(recording)
    spans = [
        compositor.TrackSpan(directory / track.file, track.kind, track.start_offset)
        for track in recording.tracks.all()
        if (directory / track.file).is_file() and (directory / track.file).stat().st_size > 0
    ]
    if not spans:
        return fail_recording(recording, "Nothing was recorded: no participant sent audio or video.")
    output = directory / compositor.output_name(spans)
    total = max(recording.duration or 0.0, max(span.start for span in spans) + 0.5)
    command = compositor.build_command(spans, total, output)
    try:
        with metrics.COMPOSITE_SECONDS.time():
            subprocess.run(command, check=True, capture_output=True, timeout=COMPOSITE_TIMEOUT_SECONDS)  # noqa: S603
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        log.warning("recording %s: ffmpeg failed: %s %s", recording.pk, error, detail[-2000:])
        return fail_recording(recording, f"Making the file failed: {str(error)[:200]}")
    recording.file = output.name
    recording.size = output.stat().st_size
    recording.status = Recording.Status.READY
    with transaction.atomic():  # the event is queued with the change it reports, or neither
        recording.save(update_fields=["file", "size", "status"])
        webhooks.emit("recording.ready", webhooks.recording_data(recording))
    metrics.RECORDINGS_READY.inc()
    log.info("recording %s ready: %s (%d bytes)", recording.pk, output, recording.size)
    return recording


def delete_recording(recording: Recording) -> None:
    """Remove a recording's row; its files follow once the transaction commits (`signals.py`)."""
    recording.delete()


def purge_expired() -> tuple[int, int]:
    """What the media worker runs daily: recordings past RECORDING_RETENTION_DAYS and chat lines
    past CHAT_RETENTION_DAYS are deleted; how many of each."""
    return purge_recordings(), chat_services.purge_messages()


def purge_recordings(days: int | None = None) -> int:
    """Delete finished recordings started more than `days` (RECORDING_RETENTION_DAYS) ago; how many."""
    cutoff = timezone.now() - timedelta(days=days if days is not None else settings.RECORDING_RETENTION_DAYS)
    old = Recording.objects.filter(started__lt=cutoff).exclude(status=Recording.Status.RECORDING)
    count = 0
    for recording in old:
        delete_recording(recording)
        count += 1
    return count
