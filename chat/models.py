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

    class Meta:
        ordering = ["created", "pk"]
        indexes = [models.Index(fields=["room", "-created"])]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.text[:40]}"


class Meeting(models.Model):
    """When a room's current meeting began: someone joined it while it was empty. A guest sees
    only the chat written since (`selectors.recent_messages`), not earlier meetings'."""

    room = models.OneToOneField(Room, on_delete=models.CASCADE, primary_key=True, related_name="meeting")
    started = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.room} since {self.started:%Y-%m-%d %H:%M}"
