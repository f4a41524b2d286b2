from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def default_max_participants() -> int:
    return int(settings.ROOM_DEFAULT_MAX_PARTICIPANTS)


class RoomMode(models.TextChoices):
    """How media travels between the people in a room (docs/architecture.md, "Relay mode")."""

    MESH = "mesh", _("Mesh: browsers send to each other directly")
    RELAY = "relay", _("Relay: everyone sends once to the media worker, which forwards")
    AUTO = "auto", _("Auto: mesh while small, relay above a threshold")


class Room(models.Model):
    """A place people join to talk; its live participants are in signaling presence."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rooms"
    )
    description = models.TextField(blank=True, max_length=2000)
    password_hash = models.CharField(max_length=256, blank=True, editable=False)
    max_participants = models.PositiveSmallIntegerField(
        default=default_max_participants,
        validators=[MinValueValidator(2), MaxValueValidator(200)],
    )
    audio_only = models.BooleanField(default=False, help_text="No video at all in this room.")
    locked = models.BooleanField(default=False, help_text="Nobody new can join.")
    mode = models.CharField(max_length=8, choices=RoomMode.choices, default=RoomMode.MESH)
    # Moderation (issue 6): see moderation/ and signaling/moderation.py.
    knock = models.BooleanField(
        default=False, verbose_name="ask to join", help_text="Newcomers wait until a moderator lets them in."
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="moderated_rooms",
        help_text="People who may mute, remove and admit others, lock the room and end the meeting.",
    )
    # People who got into the room's call page (password given, not locked out): the lobby lists
    # a room to its owner, its moderators and these, never to everyone (issue 12).
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="joined_rooms", editable=False)
    # Listed in the lobby of everyone signed in, not only of its owner, moderators and members
    # (issue 15). Entering it still needs what it needs (password, not locked). Never for visitors.
    public = models.BooleanField(
        default=False, verbose_name="listed", help_text="Everyone signed in sees this room in the lobby."
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("room", kwargs={"slug": self.slug})

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def set_password(self, raw: str | None) -> None:
        """Store a hash of `raw`; an empty or None value removes the password."""
        self.password_hash = make_password(raw) if raw else ""

    def check_password(self, raw: str) -> bool:
        return self.has_password and check_password(raw, self.password_hash)
