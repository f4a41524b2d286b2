"""Chat does not pile up for ever, and a guest reads only the meeting they joined."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from chat import services
from chat.models import ChatMessage
from invites.tests.conftest import ConnectGuest, connect_guest, guest_cookie
from mediaworker.tests.conftest import poll
from rooms.models import Room
from signaling.presence import get_presence
from signaling.tests.conftest import Browser, Connect, enter

__all__ = ["connect_guest"]  # fixture
pytestmark = pytest.mark.django_db(transaction=True)


async def say(browser: Browser, text: str) -> None:
    await browser.send({"type": "chat", "text": text})
    while (await browser.receive()).get("type") != "chat":
        pass


async def everyone_left(*browsers: Browser) -> None:
    for browser in browsers:
        await browser.ws.disconnect()
    await poll(_room_empty)


async def _room_empty() -> bool:
    return not await get_presence().members("standup")


async def test_a_guest_sees_only_the_chat_of_the_meeting_they_joined(
    connect: Connect, connect_guest: ConnectGuest, alice: User, bob: User, room: Room
) -> None:
    alice_ws, bob_ws = await enter(connect, alice), await enter(connect, bob)
    await say(alice_ws, "yesterday: the salaries of the team")
    await everyone_left(alice_ws, bob_ws)

    alice_ws = await enter(connect, alice)  # the room was empty: a new meeting
    await say(alice_ws, "today: the release")

    gus = await connect_guest(await guest_cookie(room, "Gus"))
    assert [line["text"] for line in (await gus.join())["chat"]] == ["today: the release"]
    # Members of the room still get its history.
    welcome = await (await connect(bob)).join()
    assert [line["text"] for line in welcome["chat"]] == ["yesterday: the salaries of the team", "today: the release"]


async def test_a_guest_entering_an_empty_room_sees_no_earlier_chat(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
) -> None:
    alice_ws = await enter(connect, alice)
    await say(alice_ws, "before the guest came")
    await everyone_left(alice_ws)

    gus = await connect_guest(await guest_cookie(room, "Gus"))
    assert (await gus.join())["chat"] == []


def test_chat_past_chat_retention_days_is_deleted(settings: object, room: Room) -> None:
    settings.CHAT_RETENTION_DAYS = 7  # type: ignore[attr-defined]
    old, _ = services.post_message(room.slug, None, "Bob", "old")
    services.post_message(room.slug, None, "Bob", "new")
    ChatMessage.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=8))

    assert services.purge_messages() == 1
    assert list(ChatMessage.objects.values_list("text", flat=True)) == ["new"]

    ChatMessage.objects.update(created=timezone.now() - timedelta(days=400))
    settings.CHAT_RETENTION_DAYS = 0  # type: ignore[attr-defined]
    assert services.purge_messages() == 0, "0 keeps every line"
    assert ChatMessage.objects.count() == 1
