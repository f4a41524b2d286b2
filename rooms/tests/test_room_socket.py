"""The room page and the room socket agree: a password given on the page lets the socket in."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from accounts.models import User
from audioexchange.asgi import application
from rooms import services

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _enter_password_on_the_page(user: User, password: str) -> str:
    client = Client()
    client.force_login(user)
    assert client.post("/rooms/secret/", {"password": password}).status_code in (303, 403)
    return client.cookies["sessionid"].value


async def _first_message(cookie: str) -> dict[str, object]:
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"cookie", f"sessionid={cookie}".encode())]
    socket = WebsocketCommunicator(application, "/ws/rooms/secret/", headers=headers)
    try:
        await socket.connect(timeout=5)
        return json.loads(await socket.receive_from(timeout=2))
    finally:
        await socket.disconnect()
        await database_sync_to_async(connections.close_all)()


async def test_bob_who_gave_the_password_is_welcomed_by_the_socket(alice: User, bob: User):
    await database_sync_to_async(services.create_room)(slug="secret", owner=alice, password="open sesame")

    message = await _first_message(await _enter_password_on_the_page(bob, "open sesame"))

    assert message["type"] == "welcome"


async def test_mallory_who_guessed_wrong_is_refused_by_the_socket(alice: User, mallory: User):
    await database_sync_to_async(services.create_room)(slug="secret", owner=alice, password="open sesame")

    message = await _first_message(await _enter_password_on_the_page(mallory, "guess"))

    assert message["type"] == "error" and message["code"] == "password_required"
