"""Reads about recordings."""

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from mediaworker.models import Recording, RecordingTrack
from rooms import services as room_services
from rooms.models import Room


def recordings_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "recordings"


def recording_directory(recording: Recording) -> Path:
    return recordings_root() / recording.directory


def free_disk_mb() -> int:
    """Megabytes free on the filesystem recordings are written to (MEDIA_ROOT, or where it will be)."""
    path = recordings_root()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free // (1024 * 1024)


def disk_running_out() -> bool:
    """True when less than RECORDING_MIN_FREE_MB is free for recordings."""
    return free_disk_mb() < int(settings.RECORDING_MIN_FREE_MB)


def active_recording(room: Room) -> Recording | None:
    return Recording.objects.filter(room=room, status=Recording.Status.RECORDING).first()


def is_recording(room: Room) -> bool:
    """True while `room` is being recorded (what `welcome` and the call page say)."""
    return Recording.objects.filter(room=room, status=Recording.Status.RECORDING).exists()


def room_recordings(room: Room) -> QuerySet[Recording]:
    return Recording.objects.filter(room=room).select_related("started_by")


def live_stream_count() -> int:
    """Tracks being written right now, by any worker (rows of a recording still going)."""
    return RecordingTrack.objects.filter(recording__status=Recording.Status.RECORDING, end_offset=None).count()


def room_owner_id(slug: str) -> int | None:
    """Whose room `slug` is (MEDIAWORKER_OWNER_SHARE counts an owner's rooms together)."""
    owner: int | None = Room.objects.filter(slug=slug).values_list("owner_id", flat=True).first()
    return owner


def recording_for(user: Any, pk: int) -> Recording | None:
    """The recording `pk` if `user` may see it (they manage its room); otherwise None."""
    recording = Recording.objects.select_related("room").filter(pk=pk).first()
    if recording is None or not room_services.can_manage(user, recording.room):
        return None
    return recording


def composite_path(recording: Recording) -> Path | None:
    """The finished file, if there is one on disk."""
    if recording.status != Recording.Status.READY or not recording.file:
        return None
    path = recording_directory(recording) / recording.file
    return path if path.is_file() else None
