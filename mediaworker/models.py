"""Server-side recordings: one row per recording, one per participant track file."""

from django.conf import settings
from django.db import models


class Recording(models.Model):
    """A recording of one room, from start to stop, and its composite file once made.

    Files live under MEDIA_ROOT/recordings/<directory>/ (a random name) and are only
    ever served through the permission-checked view, never by a public URL.
    """

    class Status(models.TextChoices):
        RECORDING = "recording", "Recording"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="recordings")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="recordings"
    )
    started = models.DateTimeField()
    ended = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, from start to stop.")
    size = models.BigIntegerField(default=0, help_text="Bytes of the composite file.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECORDING)
    error = models.TextField(blank=True)
    directory = models.CharField(max_length=64, unique=True, editable=False)
    file = models.CharField(max_length=255, blank=True, help_text="The composite, relative to its directory.")

    class Meta:
        ordering = ["-started"]
        constraints = [
            # One recording at a time per room, whatever process asks.
            models.UniqueConstraint(
                fields=["room"], condition=models.Q(status="recording"), name="one_active_recording_per_room"
            )
        ]

    def __str__(self) -> str:
        return f"{self.room} at {self.started:%Y-%m-%d %H:%M}"

    @property
    def is_audio(self) -> bool:
        return self.file.endswith(".ogg")


class RecordingTrack(models.Model):
    """One participant's audio or video, written as it arrived into a Matroska file."""

    class Kind(models.TextChoices):
        AUDIO = "audio", "Audio"
        VIDEO = "video", "Video"

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="tracks")
    peer_id = models.CharField(max_length=64)
    name = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.CharField(max_length=255, help_text="Relative to the recording's directory.")
    start_offset = models.FloatField(help_text="Seconds after the recording started: the first frame.")
    end_offset = models.FloatField(null=True, blank=True, help_text="Empty if the worker stopped abruptly.")

    class Meta:
        ordering = ["start_offset"]

    def __str__(self) -> str:
        return f"{self.name or self.peer_id} {self.kind}"
