"""Reading a room's chat."""

from typing import Any

from chat.models import ChatMessage

HISTORY_SIZE = 50


def recent_messages(room_slug: str, limit: int = HISTORY_SIZE) -> list[dict[str, Any]]:
    """The newest `limit` messages of the room, oldest first, as sent in `welcome.chat`."""
    rows = ChatMessage.objects.filter(room__slug=room_slug).order_by("-created", "-pk")[:limit]
    return [render(message) for message in reversed(list(rows))]


def render(message: ChatMessage) -> dict[str, Any]:
    return {"name": message.author_name, "text": message.text, "at": message.created.isoformat()}
