"""Helpers for room tests: put people into a room's live presence, read the channel layer."""

import asyncio
from collections.abc import Callable

import pytest
from channels.layers import channel_layers

from accounts.models import User
from signaling.presence import Peer, get_presence

Seat = Callable[..., None]


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> None:
    """A new in-memory layer per test: its queues belong to one event loop."""
    channel_layers.backends = {}


@pytest.fixture
def seat() -> Seat:
    """`seat("standup", bob, carol)` puts those users into the room's live presence."""

    def _seat(slug: str, *users: User, capacity: int = 200) -> None:
        for user in users:
            peer = Peer(f"{slug}-{user.username}", user.public_name, user.pk, f"chan-{user.username}")
            asyncio.run(get_presence().admit(slug, peer, capacity))

    return _seat
