"""Reading a room's chat."""

from typing import Any

from django.db.models import Subquery

from chat.models import ChatMessage, Meeting

HISTORY_SIZE = 50


def recent_messages(room_slug: str, limit: int = HISTORY_SIZE, this_meeting_only: bool = False) -> list[dict[str, Any]]:
    """The newest `limit` messages of the room, oldest first, as sent in `welcome.chat`.

    `this_meeting_only` (guests): only those written since the room's current meeting began."""
    rows = ChatMessage.objects.filter(room__slug=room_slug)
    if this_meeting_only:  # no meeting noted yet: nothing
        rows = rows.filter(created__gte=Subquery(Meeting.objects.filter(room__slug=room_slug).values("started")[:1]))
    newest = rows.order_by("-created", "-pk")[:limit]
    return [render(message) for message in reversed(list(newest))]


def render(message: ChatMessage) -> dict[str, Any]:
    """A line as browsers get it; `id` is the sender's idempotency key ("" when none)."""
    line = {"name": message.author_name, "text": message.text, "at": message.created.isoformat()}
    return {**line, "id": message.client_id} if message.client_id else line
