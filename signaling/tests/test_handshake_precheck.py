"""A handshake without a session cookie, or with one this server did not sign, is refused
before it costs a database hop: these tests have no database at all (pytest-django refuses
every query), so a refusal that needed one would fail them."""

import json
import secrets

from channels.testing import WebsocketCommunicator

from audioexchange.asgi import application
from signaling.protocol import CloseCode
from signaling.tests.conftest import ORIGIN


async def refusal(cookie: str | None) -> tuple[dict[str, str], int]:
    """Open a room socket as mallory's script does; return the error it gets and the close code."""
    headers = [(b"origin", ORIGIN.encode())]
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    ws = WebsocketCommunicator(application, "/ws/rooms/standup/", headers=headers)
    try:
        connected, _ = await ws.connect(timeout=2)
        assert connected, "accepted, so that the page can show why"
        error = json.loads(await ws.receive_from(timeout=2))
        closed = await ws.receive_output(timeout=2)
        assert closed["type"] == "websocket.close", closed
        return error, closed["code"]
    finally:
        await ws.disconnect()


async def test_a_socket_without_a_session_cookie_is_refused_without_a_database_hop():
    error, code = await refusal(None)

    assert (error["type"], error["code"], code) == ("error", "no_session", CloseCode.NOT_LOGGED_IN)
    assert "allow cookies" in error["message"]


async def test_a_forged_session_cookie_is_refused_without_a_database_hop():
    # A key shaped like Django's own (32 random characters), one of the right length, garbage.
    for forged in (secrets.token_hex(16), secrets.token_hex(20), "x" * 500):
        error, code = await refusal(forged)
        assert (error["code"], code) == ("bad_session", CloseCode.NOT_LOGGED_IN)
        assert "reload the page" in error["message"]
