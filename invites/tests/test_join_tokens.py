"""Signed join tokens: `/rooms/<slug>/?jwt=<token>` lets another app's people into one room,
under their names and with the rights the token gives, and nobody in with a bad token."""

import time
from typing import Any

import jwt
import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts.models import User
from invites import tokens
from invites.tests.conftest import ConnectGuest
from moderation.tests.conftest import audit_log, make_room
from rooms import services as room_services
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Connect, enter

SECRET = "join-token-test-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def join_token_secret(settings: Any) -> None:
    settings.JOIN_TOKEN_SECRET = SECRET
    settings.JOIN_TOKEN_MAX_SECONDS = 3600


def signed(claims: dict[str, Any], key: str = SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def claims_for(room: str = "standup", name: str = "Dana", **extra: Any) -> dict[str, Any]:
    return {"room": room, "name": name, "moderator": False, "exp": int(time.time()) + 600, **extra}


def open_token(token: str, slug: str = "standup") -> tuple[Client, Any]:
    client = Client()
    return client, client.get(f"/rooms/{slug}/", {"jwt": token})


@database_sync_to_async
def token_cookie(slug: str = "standup", **claims: Any) -> str:
    """Open the room with a token as the other app's user would; return their session cookie."""
    client, response = open_token(signed(claims_for(room=slug, **claims)), slug)
    assert response.status_code == 303, response.content
    return client.cookies["sessionid"].value


@pytest.mark.django_db
def test_a_valid_token_opens_the_call_page_under_its_name(room: Room):
    client, response = open_token(tokens.mint("standup", "Dana"))

    assert response.status_code == 303
    assert response["Location"] == "/rooms/standup/", "the token does not stay in the address bar"
    page = client.get("/rooms/standup/")
    assert page.status_code == 200
    assert b"Daily standup" in page.content
    assert client.get("/rooms/standup/", {"jwt": tokens.mint("standup", "Dana")}).status_code == 303, "reusable"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("token", "code"),
    [
        (signed(claims_for(exp=int(time.time()) - 5)), "token_expired"),
        (signed(claims_for(), key="another-apps-key-0123456789abcdef"), "token_bad_signature"),
        (signed(claims_for(room="other")), "token_wrong_room"),
        (signed(claims_for(exp=int(time.time()) + 7200)), "token_too_long"),
        (signed({"room": "standup", "name": "Dana"}), "token_incomplete"),
        (signed(claims_for(name="   ")), "token_no_name"),
        ("not-a-token", "token_malformed"),
    ],
)
def test_a_bad_token_gets_a_page_saying_why_and_no_entry(room: Room, token: str, code: str):
    client, response = open_token(token)

    assert response.status_code == 403
    assert b"This join link does not work" in response.content
    assert code.encode() in response.content
    assert client.get("/rooms/standup/").status_code == 302, "still sent to log in: no grant"


@pytest.mark.django_db
def test_without_a_secret_the_server_refuses_every_token(room: Room, settings: Any):
    token = tokens.mint("standup", "Dana")
    settings.JOIN_TOKEN_SECRET = ""

    _, response = open_token(token)
    assert response.status_code == 404
    assert b"join_tokens_off" in response.content


@pytest.mark.django_db
def test_a_token_skips_the_password_but_not_the_lock(alice: User):
    room = room_services.create_room(slug="standup", owner=alice, password="hunter22")
    client, _ = open_token(tokens.mint("standup", "Dana"))
    page = client.get("/rooms/standup/")
    assert page.status_code == 200
    assert b'name="password"' not in page.content, "no password page"

    room_services.set_locked(room, True)
    assert client.get("/rooms/standup/").status_code == 423


@pytest.mark.django_db
def test_the_grant_is_for_that_room_only(room: Room, alice: User):
    room_services.create_room(slug="other", owner=alice)
    client, _ = open_token(tokens.mint("standup", "Dana"))

    assert client.get("/rooms/other/").status_code == 302, "another room sends them to log in"


pytestmark_sockets = pytest.mark.django_db(transaction=True)


@pytestmark_sockets
async def test_a_token_guest_talks_under_the_tokens_name(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
):
    alice_ws = await enter(connect, alice)
    dana_ws = await connect_guest(await token_cookie(name="Dana"))

    welcome = await dana_ws.join()
    assert welcome["peers"] == [{"peer_id": alice_ws.peer_id, "name": "Alice A."}]
    assert (await alice_ws.receive())["peer"]["name"] == "Dana (guest)"


@pytestmark_sockets
async def test_a_moderator_token_mutes_and_locks(
    connect: Connect, connect_guest: ConnectGuest, alice: User, bob: User, room: Room
):
    bob_ws = await enter(connect, bob)
    mod_ws = await connect_guest(await token_cookie(name="Moe", moderator=True))
    await mod_ws.join()
    await bob_ws.receive()

    await mod_ws.send({"type": "moderate", "action": "mute", "peer_id": bob_ws.peer_id})
    assert await bob_ws.receive() == {"type": "mute", "forced": True, "by": "Moe (guest)"}
    await mod_ws.send({"type": "moderate", "action": "lock"})
    assert (await bob_ws.receive())["type"] == "room-locked"
    assert await audit_log("standup") == [("Moe (guest)", "mute", "Bob B."), ("Moe (guest)", "lock", "")]


@pytestmark_sockets
async def test_a_moderator_token_cannot_touch_the_owner(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
):
    alice_ws = await enter(connect, alice)
    mod_ws = await connect_guest(await token_cookie(name="Moe", moderator=True))
    await mod_ws.join()
    await alice_ws.receive()

    await mod_ws.send({"type": "moderate", "action": "remove", "peer_id": alice_ws.peer_id})
    await mod_ws.expect_error("protected_owner")
    assert await alice_ws.ws.receive_nothing()


@pytestmark_sockets
async def test_a_plain_token_guest_cannot_moderate(
    connect: Connect, connect_guest: ConnectGuest, alice: User, bob: User, room: Room
):
    bob_ws = await enter(connect, bob)
    dana_ws = await connect_guest(await token_cookie(name="Dana"))
    await dana_ws.join()
    await bob_ws.receive()

    await dana_ws.send({"type": "moderate", "action": "mute", "peer_id": bob_ws.peer_id})
    await dana_ws.expect_error("not_moderator")
    assert await bob_ws.ws.receive_nothing()


@pytestmark_sockets
async def test_a_barred_subject_cannot_come_back_with_a_new_token(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
):
    alice_ws = await enter(connect, alice)
    dana_ws = await connect_guest(await token_cookie(name="Dana", sub="user-42"))
    await dana_ws.join()
    await alice_ws.receive()

    await alice_ws.send({"type": "moderate", "action": "remove_and_bar", "peer_id": dana_ws.peer_id})
    await dana_ws.expect_error("banned")

    again = await connect_guest(await token_cookie(name="Dana again", sub="user-42"))
    await again.expect_error("banned")
    await again.expect_close(CloseCode.FORBIDDEN)


@pytestmark_sockets
async def test_a_token_does_not_pass_a_full_room(connect: Connect, connect_guest: ConnectGuest, alice: User, bob: User):
    await make_room("standup", alice, max_participants=2)
    await enter(connect, alice)
    await enter(connect, bob)

    dana_ws = await connect_guest(await token_cookie(name="Dana"))
    await dana_ws.expect_error("room_full")
