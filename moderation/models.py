from django.conf import settings
from django.db import models


class Ban(models.Model):
    """Someone barred from returning to a room: a user, or a guest by the id kept in their session."""

    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    guest_id = models.CharField(max_length=64, blank=True)
    invite = models.ForeignKey(
        "invites.Invite",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The invite a barred guest came in with: new guests through it from this address are refused.",
    )
    address = models.GenericIPAddressField(null=True, blank=True, help_text="The address they were connected from.")
    name = models.CharField(max_length=64, help_text="Their name when they were barred.")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], condition=models.Q(user__isnull=False), name="ban_user"),
            models.UniqueConstraint(fields=["room", "guest_id"], condition=~models.Q(guest_id=""), name="ban_guest"),
        ]

    def __str__(self) -> str:
        return f"{self.name} barred from {self.room_id}"


class ModerationAction(models.Model):
    """The audit log: every moderation action, kept even when the people or the room are gone."""

    class Kind(models.TextChoices):
        ASK_MUTE = "ask_mute", "asked to mute"
        MUTE = "mute", "muted"
        REMOVE = "remove", "removed"
        BAR = "bar", "removed and barred"
        LOCK = "lock", "locked the room"
        UNLOCK = "unlock", "unlocked the room"
        END = "end", "ended the meeting"
        ADMIT = "admit", "let in"
        DENY = "deny", "turned away"

    room_slug = models.CharField(max_length=64, db_index=True)
    room = models.ForeignKey("rooms.Room", null=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=64)
    action = models.CharField(max_length=16, choices=Kind.choices)
    target_name = models.CharField(max_length=64, blank=True)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        target = f" {self.target_name}" if self.target_name else ""
        return f"{self.actor_name} {self.get_action_display()}{target} in {self.room_slug}"
