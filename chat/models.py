from django.conf import settings
from django.db import models

from rooms.models import Room

MAX_MESSAGE_LENGTH = 1000


class ChatMessage(models.Model):
    """One line of a room's text chat. The author's name is kept as it was when they wrote."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="chat_messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=64)
    text = models.TextField(max_length=MAX_MESSAGE_LENGTH)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    # Who sent it across their connections (`Peer.person`: the user id, or `guest-<id>`) and the
    # browser's idempotency key for the line: a line sent again after a reconnect is stored once.
    sender = models.CharField(max_length=80, blank=True, default="")
    client_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["room", "-created"])]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"],
                condition=~models.Q(client_id=""),
                name="chat_line_once_per_sender_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.text[:40]}"


class Meeting(models.Model):
    """When a room's current meeting began: someone joined it while it was empty. A guest sees
    only the chat written since (`selectors.recent_messages`), not earlier meetings'."""

    room = models.OneToOneField(Room, on_delete=models.CASCADE, primary_key=True, related_name="meeting")
    started = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.room} since {self.started:%Y-%m-%d %H:%M}"
