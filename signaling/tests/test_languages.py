"""A room socket says why in its person's language (the language switch's cookie, else the
handshake's Accept-Language, else English); the code and the close code never change.

alice's browser speaks English, bob's French: one event, each reads it in their own language."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import User
from audioexchange.asgi import application
from rooms import services as room_services
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import ORIGIN, Connect, enter, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

FRENCH = "fr-FR,fr;q=0.9,en;q=0.5"


def readable(sentence: str) -> str:
    """French typography puts no-break spaces before : ; ? !; compare as a person reads."""
    return sentence.replace("\u00a0", " ").replace("\u202f", " ")


async def test_a_refusal_at_the_door_is_in_french_with_the_same_codes(connect: Connect, bob: User, room: Room):
    await database_sync_to_async(room_services.set_locked)(room, True)

    english = await connect(bob)
    french = await connect(bob, language=FRENCH)

    assert (await english.expect_error("room_locked"))["message"] == "This room is locked; ask its owner to unlock it."
    await english.expect_close(CloseCode.ROOM_LOCKED)
    error = await french.expect_error("room_locked")
    sentence = "Cette salle est verrouillée ; demandez à son propriétaire de la déverrouiller."
    assert readable(error["message"]) == sentence
    await french.expect_close(CloseCode.ROOM_LOCKED)


async def test_the_language_switch_cookie_wins_over_accept_language(bob: User, room: Room):
    cookie = await session_cookie(bob)
    await database_sync_to_async(room_services.set_locked)(room, True)
    headers = [
        (b"origin", ORIGIN.encode()),
        (b"cookie", f"sessionid={cookie}; django_language=fr".encode()),
        (b"accept-language", b"en-US,en;q=0.9"),
    ]
    ws = WebsocketCommunicator(application, "/ws/rooms/standup/", headers=headers)
    try:
        assert (await ws.connect(timeout=5))[0]
        error = await ws.receive_json_from(timeout=2)
        assert error["code"] == "room_locked" and error["message"].startswith("Cette salle est verrouillée")
    finally:
        await ws.disconnect()


async def test_a_refusal_before_the_session_is_read_is_in_french():
    headers = [(b"origin", ORIGIN.encode()), (b"accept-language", FRENCH.encode())]
    ws = WebsocketCommunicator(application, "/ws/rooms/standup/", headers=headers)
    try:
        assert (await ws.connect(timeout=2))[0]
        error = await ws.receive_json_from(timeout=2)
        assert error["code"] == "no_session"
        assert readable(error["message"]).startswith("Votre navigateur n'a envoyé aucune session :")
    finally:
        await ws.disconnect()


async def test_a_refused_message_in_the_call_is_in_french(connect: Connect, bob: User, room: Room):
    bob_ws = await enter(connect, bob, language=FRENCH)

    await bob_ws.send({"type": "chat", "text": "x" * 1001, "id": "long-1"})

    error = await bob_ws.expect_error("chat_too_long")
    assert (error["id"], error["message"]) == ("long-1", "Les messages sont limités à 1000 caractères.")


async def test_a_moderator_removing_someone_is_explained_in_the_removed_persons_language(
    connect: Connect, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob, language=FRENCH)
    assert (await alice_ws.receive())["type"] == "peer-joined"

    await alice_ws.send({"type": "moderate", "action": "remove", "peer_id": bob_ws.peer_id})

    error = await bob_ws.expect_error("removed")
    assert error["message"] == "Alice A. vous a exclu de la réunion."
    await bob_ws.expect_close(CloseCode.FORBIDDEN)


async def test_the_end_of_the_meeting_reaches_each_in_their_language(
    connect: Connect, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob, language=FRENCH)
    assert (await alice_ws.receive())["type"] == "peer-joined"

    await alice_ws.send({"type": "moderate", "action": "end"})

    assert (await alice_ws.expect_error("meeting_ended"))["message"] == "Alice A. ended the meeting for everyone."
    french = await bob_ws.expect_error("meeting_ended")
    assert french["message"] == "Alice A. a mis fin à la réunion pour tout le monde."
    for ws in (alice_ws, bob_ws):
        await ws.expect_close(CloseCode.ROOM_CLOSED)
