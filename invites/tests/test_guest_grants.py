"""Guests keep only what their invite gave: on every connect the grant in the session is checked
against its invite's room (by id, not by the slug it is filed under), expiry and withdrawal."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import User
from invites.models import Invite
from invites.tests.conftest import ConnectGuest, guest_cookie
from moderation.tests.conftest import make_room
from rooms.models import Room
from signaling.protocol import CloseCode
from signaling.tests.conftest import Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_guest_grant_does_not_follow_its_slug_to_another_room(
    connect_guest: ConnectGuest, mallory: User, bob: User
):
    # Mallory invites herself to a room of her own, then it is renamed (in the admin) and bob
    # makes a private room at the old address. Her grant is filed under that slug.
    party = await make_room("party", mallory)
    cookie = await guest_cookie(party, "Mal")
    party.slug = "old-party"
    await database_sync_to_async(party.save)()
    await make_room("party", bob)

    mallory_ws = await connect_guest(cookie, "party")

    await mallory_ws.expect_error("not_logged_in")
    await mallory_ws.expect_close(CloseCode.NOT_LOGGED_IN)


async def test_a_guest_cannot_reconnect_once_her_invite_has_expired(
    connect: Connect, connect_guest: ConnectGuest, alice: User, room: Room
):
    alice_ws = await enter(connect, alice)
    cookie = await guest_cookie(room, "Mal", expires_at=timezone.now() + timedelta(hours=1))
    first = await connect_guest(cookie)
    await first.join()
    await alice_ws.receive()
    await database_sync_to_async(Invite.objects.update)(expires_at=timezone.now() - timedelta(seconds=1))

    again = await connect_guest(cookie)

    error = await again.expect_error("invite_expired")
    assert "ask for a new one" in error["message"]
    await again.expect_close(CloseCode.NOT_LOGGED_IN)
    assert await first.ws.receive_nothing(), "the call in progress goes on"
