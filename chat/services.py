"""Writing to a room's chat. Text is stored as typed and escaped only where it is shown
(browsers insert it with textContent; Django templates autoescape)."""

import contextlib
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chat.models import MAX_MESSAGE_LENGTH, ChatMessage, Meeting
from rooms.models import Room


class ChatRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def clean_text(text: str) -> str:
    """Trim, and drop control characters other than newlines and tabs."""
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return kept.strip()


def post_message(
    room_slug: str, author_id: int | None, author_name: str, text: str, sender: str = "", client_id: str = ""
) -> tuple[ChatMessage, bool]:
    """Store a chat line in room `room_slug`; raises ChatRefused for an empty or too long one.

    With a `client_id` (the browser's idempotency key), a line `sender` already stored under
    that key is returned as it is, not stored again. Returns (the line, whether it is new)."""
    cleaned = clean_text(text)
    if not cleaned:
        raise ChatRefused("chat_empty", _("A chat message needs some text."))
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        too_long = _("Chat messages are limited to %(length)d characters.") % {"length": MAX_MESSAGE_LENGTH}
        raise ChatRefused("chat_too_long", too_long)
    room = Room.objects.only("pk").get(slug=room_slug)
    fields = {"author_id": author_id, "author_name": author_name, "text": cleaned}
    if not client_id:
        return ChatMessage.objects.create(room=room, sender=sender, **fields), True
    key = {"room": room, "sender": sender, "client_id": client_id}
    if (stored := ChatMessage.objects.filter(**key).first()) is not None:
        return stored, False
    try:
        with transaction.atomic():  # the same line from two connections at once: one row
            return ChatMessage.objects.create(**key, **fields), True
    except IntegrityError:
        return ChatMessage.objects.get(**key), False


def start_meeting(room_id: int) -> None:
    """Someone joined room `room_id` while it was empty: a new meeting begins now.

    One statement (an upsert): a join that opens a meeting waits for it in the thread that runs
    every join's database work."""
    # IntegrityError: the room was deleted since the join read it; no meeting to start.
    with contextlib.suppress(IntegrityError):
        Meeting.objects.bulk_create(
            [Meeting(room_id=room_id, started=timezone.now())],
            update_conflicts=True,
            unique_fields=["room"],
            update_fields=["started"],
        )


def purge_messages(days: int | None = None) -> int:
    """Delete chat lines older than `days` (CHAT_RETENTION_DAYS; 0 keeps every line); how many."""
    days = days if days is not None else int(settings.CHAT_RETENTION_DAYS)
    if days <= 0:
        return 0
    deleted, _ = ChatMessage.objects.filter(created__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted
