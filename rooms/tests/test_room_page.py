"""Getting into a room's page: logged in, not locked out, password given."""

import json
from typing import Any

from django.test import Client
from django.urls import reverse

from accounts.models import User
from rooms import selectors, services
from rooms.models import Room
from rooms.tests.conftest import Seat


def page_template(response: Any) -> str:
    """The template the view rendered (the first one; the rest are what it extends)."""
    return str(response.templates[0].name)


def test_visitors_are_sent_to_log_in_and_back(client: Client, room: Room):
    response = client.get("/rooms/standup/")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/rooms/standup/"


def test_bob_gets_the_call_page_with_its_config(client: Client, room: Room, bob: User):
    client.force_login(bob)

    response = client.get("/rooms/standup/")

    assert response.status_code == 200
    assert page_template(response) == "rooms/room.html"
    assert response.context["room"] == room
    assert response.context["can_manage"] is False
    assert response.context["call_config"] == {
        "ws_path": "/ws/rooms/standup/",
        "room": {
            "slug": "standup",
            "name": "Daily standup",
            "audio_only": False,
            "max_participants": 8,
            "mode": "mesh",
        },
        "display_name": "Bob B.",
        "lobby_url": "/",
        "ice_servers_url": "/ice-servers/?room=standup",
        "can_record": False,
        "recording_active": False,
        "can_moderate": False,
        "locked": False,
        "fallback_after_ms": 8000,
        "embed_origins": [],
    }


def test_call_config_is_plain_json(room: Room, carol: User):
    config = selectors.call_config(room, carol)

    assert json.loads(json.dumps(config))["display_name"] == "carol", "falls back to the username"


def test_alice_may_manage_her_room(client: Client, room: Room, alice: User):
    client.force_login(alice)

    assert client.get("/rooms/standup/").context["can_manage"] is True


def test_an_unknown_room_is_a_404_with_a_way_out(client: Client, bob: User):
    client.force_login(bob)

    response = client.get("/rooms/nowhere/")

    assert response.status_code == 404
    assert "There is no room at /rooms/nowhere/" in response.content.decode()


def test_a_locked_room_turns_bob_away_but_not_alice(client: Client, room: Room, alice: User, bob: User):
    services.set_locked(room, True)
    client.force_login(bob)

    response = client.get("/rooms/standup/")

    assert response.status_code == 423
    assert page_template(response) == "rooms/room_unavailable.html"
    assert "is locked" in response.content.decode() and "unlock" in response.content.decode()
    assert client.post("/rooms/standup/", {"password": "x"}).status_code == 423

    client.force_login(alice)
    assert client.get("/rooms/standup/").status_code == 200


def _password_room(alice: User) -> Room:
    return services.create_room(slug="secret", name="Secret", owner=alice, password="open sesame")


def test_a_password_room_asks_bob_for_the_password(client: Client, alice: User, bob: User):
    _password_room(alice)
    client.force_login(bob)

    response = client.get("/rooms/secret/")

    assert response.status_code == 200
    assert page_template(response) == "rooms/room_password.html"
    assert 'type="password"' in response.content.decode()


def test_mallory_guessing_wrong_is_refused(client: Client, alice: User, mallory: User):
    _password_room(alice)
    client.force_login(mallory)

    response = client.post("/rooms/secret/", {"password": "letmein"})

    assert response.status_code == 403
    assert "Wrong password." in response.content.decode()
    assert client.get("/rooms/secret/").context["form"] is not None, "still asked"


def test_an_empty_password_is_asked_for_again(client: Client, alice: User, mallory: User):
    _password_room(alice)
    client.force_login(mallory)

    response = client.post("/rooms/secret/", {"password": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["password"]


def test_bobs_right_password_is_remembered_for_his_session(client: Client, alice: User, bob: User):
    _password_room(alice)
    client.force_login(bob)

    response = client.post("/rooms/secret/", {"password": "open sesame"})

    assert response.status_code == 303
    assert response["Location"] == "/rooms/secret/"
    assert page_template(client.get("/rooms/secret/")) == "rooms/room.html"
    other_browser = Client()
    other_browser.force_login(bob)
    assert page_template(other_browser.get("/rooms/secret/")) == "rooms/room_password.html"


def test_changing_the_password_revokes_earlier_entries(client: Client, alice: User, bob: User):
    room = _password_room(alice)
    client.force_login(bob)
    client.post("/rooms/secret/", {"password": "open sesame"})

    services.update_room(room, password="new words")

    assert page_template(client.get("/rooms/secret/")) == "rooms/room_password.html"


def test_posting_a_password_to_an_open_room_just_goes_in(client: Client, room: Room, bob: User):
    client.force_login(bob)

    response = client.post("/rooms/standup/", {"password": "whatever"})

    assert response.status_code == 303
    assert response["Location"] == "/rooms/standup/"


def test_the_owner_never_needs_the_password(client: Client, alice: User):
    _password_room(alice)
    client.force_login(alice)

    assert client.get("/rooms/secret/").status_code == 200
    assert page_template(client.get("/rooms/secret/")) == "rooms/room.html"


def test_a_full_room_says_so_before_any_camera_starts(client: Client, alice: User, bob: User, carol: User, seat: Seat):
    services.create_room(slug="pair", name="Pair", owner=alice, max_participants=2)
    client.force_login(carol)
    assert "This room is full" not in client.get("/rooms/pair/").content.decode()

    seat("pair", alice, bob)
    page = client.get("/rooms/pair/").content.decode()

    assert "This room is full right now (2 people)" in page


def test_a_malformed_room_address_gets_the_apps_own_not_found_page(client: Client, bob: User):
    client.force_login(bob)

    response = client.get("/rooms/not%20a%20room!/")

    assert response.status_code == 404
    assert page_template(response) == "rooms/room_unavailable.html"
    assert "“not a room!” is not a room address" in response.content.decode()


def test_any_other_missing_page_is_ours_too(client: Client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert page_template(response) == "404.html"
    assert "Back to the lobby" in response.content.decode()
