from django.conf import settings
from django.db import models


class Invite(models.Model):
    """A link, `/i/<token>/`, that lets guests without an account into one room.

    Only the token's sha256 is stored: the link is shown once, when it is made.
    """

    room = models.ForeignKey("rooms.Room", on_delete=models.CASCADE, related_name="invites")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=80, blank=True, help_text="A note for the owner, e.g. who it is for.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: any number of uses.")
    uses = models.PositiveIntegerField(default=0, editable=False)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"invite to {self.room_id} ({self.label or self.pk})"
