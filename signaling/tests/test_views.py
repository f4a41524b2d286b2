"""The ICE-server endpoint the pre-join network check uses."""

import pytest
from django.test import Client, override_settings

from accounts.models import User
from invites.services import create_invite, guest_in
from rooms.models import Room
from signaling.tests.test_ice_and_metrics import TURN

pytestmark = pytest.mark.django_db


@override_settings(**TURN)
def test_logged_in_people_get_fresh_turn_credentials_that_are_never_cached(client: Client, bob: User):
    client.force_login(bob)

    response = client.get("/ice-servers/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["ttl_seconds"] == 600
    assert body["ice_servers"][1]["username"].endswith(f":{bob.pk}")


def test_visitors_are_refused_with_a_code_and_a_sentence(client: Client, room: Room):
    for path in ("/ice-servers/", f"/ice-servers/?room={room.slug}", "/ice-servers/?room=no-such-room"):
        response = client.get(path)

        assert response.status_code == 403
        assert response.json()["code"] == "not_in_room"
        assert "invite link" in response.json()["message"]


@override_settings(**TURN)
def test_a_guest_gets_credentials_for_the_room_of_their_invite_only(client: Client, room: Room, alice: User):
    _, token = create_invite(room, alice)
    assert client.post(f"/i/{token}/", {"name": "Gina"}).status_code == 303
    other = Room.objects.create(slug="elsewhere", name="Elsewhere", owner=alice)
    guest = guest_in(client.session, room.slug)
    assert guest is not None

    response = client.get(f"/ice-servers/?room={room.slug}")

    assert response.status_code == 200
    assert response.json()["ice_servers"][1]["username"].endswith(f":guest-{guest.guest_id}")
    assert client.get(f"/ice-servers/?room={other.slug}").status_code == 403
