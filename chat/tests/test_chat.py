"""Chat over the room socket: everyone sees a line once, late joiners get the history,
nothing anyone types is turned into markup, and floods and novels are refused."""

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from accounts.models import User
from chat.models import ChatMessage
from rooms.models import Room
from signaling.tests.conftest import Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def test_a_line_reaches_everyone_once_with_the_name_the_server_knows(
    connect: Connect, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined

    await bob_ws.send({"type": "chat", "text": "  Hello, Alice!  ", "from": alice_ws.peer_id})

    for ws in (alice_ws, bob_ws):
        line = await ws.receive()
        assert line["type"] == "chat"
        assert (line["from"], line["name"], line["text"]) == (bob_ws.peer_id, "Bob B.", "Hello, Alice!")
        assert line["at"]
        assert await ws.ws.receive_nothing()


async def test_a_late_joiner_sees_the_recent_history_in_order(
    connect: Connect, alice: User, bob: User, carol: User, room: Room
):
    alice_ws = await enter(connect, alice)
    for text in ("first", "second", SCRIPT):
        await alice_ws.send({"type": "chat", "text": text})
        await alice_ws.receive()

    welcome = await (await connect(carol)).join()

    assert [line["text"] for line in welcome["chat"]] == ["first", "second", SCRIPT]
    assert {line["name"] for line in welcome["chat"]} == {"Alice A."}


async def test_markup_is_kept_as_plain_text_for_the_browser_to_show_as_text(
    connect: Connect, mallory: User, room: Room
):
    await database_sync_to_async(User.objects.filter(pk=mallory.pk).update)(display_name="<b>Mallory</b>")
    mallory_ws = await enter(connect, mallory)

    await mallory_ws.send({"type": "chat", "text": SCRIPT})

    line = await mallory_ws.receive()
    assert line["text"] == SCRIPT, "stored and sent verbatim; chat.js inserts it with textContent"
    assert line["name"] == "<b>Mallory</b>"


@pytest.mark.parametrize(
    ("text", "code"),
    [("   ", "chat_empty"), ("x" * 1001, "chat_too_long"), ("x" * 5000, "chat_invalid"), (42, "chat_invalid")],
)
async def test_empty_long_or_odd_lines_are_refused_and_nothing_is_stored(
    connect: Connect, bob: User, room: Room, text: object, code: str
):
    bob_ws = await enter(connect, bob)

    await bob_ws.send({"type": "chat", "text": text})

    await bob_ws.expect_error(code)
    assert not await database_sync_to_async(ChatMessage.objects.exists)()
    await bob_ws.send({"type": "chat", "text": "still here"})
    assert (await bob_ws.receive())["text"] == "still here"


@override_settings(CHAT_RATE_PER_SECOND=0.01, CHAT_BURST=3)
async def test_a_chat_flood_is_refused_while_signaling_goes_on(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()

    for n in range(3):
        await bob_ws.send({"type": "chat", "text": f"line {n}"})
        assert (await bob_ws.receive())["text"] == f"line {n}"
    await bob_ws.send({"type": "chat", "text": "one too many"})
    await bob_ws.expect_error("chat_too_fast")

    await bob_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": "v=0\r\n"})
    received = [await alice_ws.receive() for _ in range(4)]
    assert [m["type"] for m in received] == ["chat", "chat", "chat", "offer"]
    assert await database_sync_to_async(ChatMessage.objects.count)() == 3


async def test_a_line_sent_again_under_its_id_is_stored_once_and_answered_with_the_original(
    connect: Connect, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined
    await bob_ws.send({"type": "chat", "text": "Typed while offline", "id": "line-1"})
    first = await bob_ws.receive()
    assert (await alice_ws.receive()) == first
    assert first["id"] == "line-1"

    # The outbox sends it again from a new connection (the ack was lost with the old one).
    await bob_ws.ws.disconnect()
    await alice_ws.receive()  # peer-left
    again = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined
    await again.send({"type": "chat", "text": "Typed while offline", "id": "line-1"})

    answer = await again.receive()
    assert (answer["id"], answer["text"], answer["at"]) == ("line-1", first["text"], first["at"])
    assert await alice_ws.ws.receive_nothing(), "the others got it once"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1


async def test_the_same_id_from_another_person_is_another_line(connect: Connect, alice: User, bob: User, room: Room):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()  # peer-joined

    await alice_ws.send({"type": "chat", "text": "mine", "id": "same"})
    await bob_ws.send({"type": "chat", "text": "mine too", "id": "same"})

    assert {(await bob_ws.receive())["text"], (await bob_ws.receive())["text"]} == {"mine", "mine too"}
    assert await database_sync_to_async(ChatMessage.objects.count)() == 2


async def test_a_refused_line_is_named_by_its_id_and_a_bad_id_is_refused(connect: Connect, bob: User, room: Room):
    bob_ws = await enter(connect, bob)

    await bob_ws.send({"type": "chat", "text": "   ", "id": "blank-1"})
    assert (await bob_ws.expect_error("chat_empty"))["id"] == "blank-1"
    await bob_ws.send({"type": "chat", "text": "hi", "id": "<script>"})
    await bob_ws.expect_error("chat_invalid")
    assert not await database_sync_to_async(ChatMessage.objects.exists)()
