"""Guests reach the real room socket with the session an invite link gave them."""

from collections.abc import Awaitable, Callable

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from invites import services
from rooms.models import Room
from signaling.tests.conftest import Browser, Connect, connect, fresh_channel_layer

__all__ = ["connect", "connect_guest", "fresh_channel_layer", "guest_cookie"]

ConnectGuest = Callable[..., Awaitable[Browser]]


@database_sync_to_async
def guest_cookie(room: Room, name: str, **options: object) -> str:
    """Open a fresh invite link for `room` as a browser without an account would, and type `name`."""
    _, token = services.create_invite(room, room.owner, **options)  # type: ignore[arg-type]
    client = Client()
    response = client.post(f"/i/{token}/", {"name": name})
    assert response.status_code == 303, response.content
    return client.cookies["sessionid"].value


@pytest.fixture
def connect_guest(connect: Connect) -> ConnectGuest:
    """Open a room socket with a guest's session cookie (closed at the end, as `connect` does)."""

    async def _connect(cookie: str, slug: str = "standup") -> Browser:
        return await connect(None, slug=slug, cookie=cookie)

    return _connect
