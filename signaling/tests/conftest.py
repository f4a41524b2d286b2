"""Connect real WebSocket clients to the real ASGI application, as browsers would."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from accounts.models import User
from accounts.sessions import SessionStore
from audioexchange.asgi import application
from rooms import services as room_services
from rooms.models import Room

ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> None:
    """A new in-memory layer per test: its queues belong to one event loop."""
    channel_layers.backends = {}


@database_sync_to_async
def session_cookie(user: User, room_password: tuple[Room, str] | None = None) -> str:
    """Log `user` in the way the login page does and return the session cookie."""
    client = Client()
    client.force_login(user)
    if room_password is not None:
        session = client.session
        assert room_services.grant_access(session, *room_password)
        session.save()
    return client.cookies["sessionid"].value


@database_sync_to_async
def anonymous_session() -> str:
    """The session cookie of a visitor who has not logged in (a page they opened made one)."""
    session = SessionStore()
    session["visited"] = True
    session.save()
    assert session.session_key is not None
    return session.session_key


class Browser:
    """One WebSocket connection with helpers that read like what a browser sees."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.connected = False
        self.peer_id = ""

    async def receive(self, timeout: float = 2) -> dict[str, Any]:
        return json.loads(await self.ws.receive_from(timeout=timeout))

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send_to(text_data=message if isinstance(message, str) else json.dumps(message))

    async def expect_error(self, code: str) -> dict[str, Any]:
        message = await self.receive()
        assert message["type"] == "error", message
        assert message["code"] == code, message
        assert message["message"], "every error carries a sentence"
        return message

    async def expect_close(self, code: int) -> None:
        output = await self.ws.receive_output(timeout=2)
        assert output == {"type": "websocket.close", "code": code}, output

    async def join(self) -> dict[str, Any]:
        """Expect admission and remember our peer id."""
        welcome = await self.receive()
        assert welcome["type"] == "welcome", welcome
        self.peer_id = welcome["peer_id"]
        return welcome


Connect = Callable[..., Awaitable[Browser]]


async def enter(connect: Connect, user: User, **options: Any) -> Browser:
    """Connect and wait for `welcome`, so people arrive one after the other."""
    browser = await connect(user, **options)
    await browser.join()
    return browser


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open a room socket as `user` (None: anonymous); every socket is closed at the end."""
    opened: list[Browser] = []

    async def _connect(
        user: User | None,
        slug: str = "standup",
        origin: str = ORIGIN,
        room_password: tuple[Room, str] | None = None,
        cookie: str | None = None,  # a session of someone without an account (an invited guest)
        query: str = "",  # the socket URL's query string, e.g. "resume=<token>"
        address: str = "",  # the client address the server sees (daphne's scope["client"])
        language: str = "",  # the handshake's Accept-Language, e.g. "fr-FR,fr;q=0.9"
    ) -> Browser:
        headers = [(b"origin", origin.encode())]
        if language:
            headers.append((b"accept-language", language.encode()))
        if user is not None:
            cookie = await session_cookie(user, room_password)
        if cookie is not None:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        path = f"/ws/rooms/{slug}/" + (f"?{query}" if query else "")
        browser = Browser(WebsocketCommunicator(application, path, headers=headers))
        if address:
            browser.ws.scope["client"] = [address, 50000]
        opened.append(browser)
        browser.connected, _ = await browser.ws.connect(timeout=5)
        return browser

    yield _connect
    for browser in opened:
        await browser.ws.disconnect()
    # The thread that ran database_sync_to_async holds a connection; let the test database go.
    await database_sync_to_async(connections.close_all)()
