"""Only the people who manage a room change it: edit, lock, delete."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.urls import reverse

from accounts.models import User
from rooms import services
from rooms.models import Room
from signaling.groups import room_group


def _edit_form(room: Room, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": room.name,
        "description": room.description,
        "max_participants": room.max_participants,
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not False}


def test_alice_renames_her_room_and_sets_a_password(client: Client, room: Room, alice: User):
    client.force_login(alice)
    assert client.get("/rooms/standup/edit/").status_code == 200

    response = client.post(
        "/rooms/standup/edit/",
        _edit_form(room, name="Standup (9am)", max_participants=4, audio_only="on", new_password="daily-standup"),
    )

    assert response.status_code == 303
    room.refresh_from_db()
    assert (room.name, room.max_participants, room.audio_only, room.locked) == ("Standup (9am)", 4, True, False)
    assert room.check_password("daily-standup")
    assert "everyone must enter the new one" in client.get(response["Location"]).content.decode()


def test_alice_clears_the_password(client: Client, alice: User):
    room = services.create_room(slug="secret", name="Secret", owner=alice, password="hush")
    client.force_login(alice)

    client.post("/rooms/secret/edit/", _edit_form(room, clear_password="on"))

    room.refresh_from_db()
    assert not room.has_password


def test_a_new_password_and_clearing_it_at_once_is_refused(client: Client, alice: User):
    room = services.create_room(slug="secret", name="Secret", owner=alice, password="hush")
    client.force_login(alice)

    response = client.post("/rooms/secret/edit/", _edit_form(room, clear_password="on", new_password="x-long-enough"))

    assert response.status_code == 200
    assert "not both" in str(response.context["form"].non_field_errors())
    room.refresh_from_db()
    assert room.check_password("hush")


def test_bad_edits_are_form_errors_and_change_nothing(client: Client, room: Room, alice: User):
    client.force_login(alice)

    response = client.post("/rooms/standup/edit/", _edit_form(room, name="", max_participants=500))

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "max_participants"}
    room.refresh_from_db()
    assert (room.name, room.max_participants) == ("Daily standup", 8)


def test_alice_locks_and_unlocks(client: Client, room: Room, alice: User):
    client.force_login(alice)

    response = client.post("/rooms/standup/lock/", {"locked": "1"})
    assert response.status_code == 303
    assert response["Location"] == reverse("room-edit", args=["standup"])
    room.refresh_from_db()
    assert room.locked

    client.post("/rooms/standup/lock/", {"locked": "0"})
    room.refresh_from_db()
    assert not room.locked

    client.post("/rooms/standup/lock/", {"next": "/rooms/standup/"})
    room.refresh_from_db()
    assert room.locked, "without a value the lock toggles"


def test_lock_goes_back_to_a_local_next_only(client: Client, room: Room, alice: User):
    client.force_login(alice)

    assert client.post("/rooms/standup/lock/", {"next": "/rooms/standup/"})["Location"] == "/rooms/standup/"
    evil = client.post("/rooms/standup/lock/", {"next": "https://evil.example/"})
    assert evil["Location"] == reverse("room-edit", args=["standup"])


def test_a_get_of_the_lock_url_leads_to_the_settings(client: Client, room: Room, alice: User):
    client.force_login(alice)

    response = client.get("/rooms/standup/lock/")

    assert response.status_code == 302
    room.refresh_from_db()
    assert not room.locked


def test_alice_deletes_her_room_and_everyone_in_it_is_disconnected(client: Client, room: Room, alice: User):
    layer = get_channel_layer()
    assert layer is not None
    bobs_socket = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(room_group("standup"), bobs_socket)
    client.force_login(alice)
    assert "Delete" in client.get("/rooms/standup/delete/").content.decode()

    response = client.post("/rooms/standup/delete/")

    assert response.status_code == 303
    assert response["Location"] == "/"
    assert not Room.objects.filter(slug="standup").exists()
    assert "deleted" in client.get("/").content.decode()
    assert async_to_sync(layer.receive)(bobs_socket)["type"] == "room.closed"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/rooms/standup/edit/"),
        ("post", "/rooms/standup/edit/"),
        ("post", "/rooms/standup/lock/"),
        ("get", "/rooms/standup/delete/"),
        ("post", "/rooms/standup/delete/"),
    ],
)
def test_mallory_may_not_touch_alices_room(client: Client, room: Room, mallory: User, method: str, path: str):
    client.force_login(mallory)

    response = getattr(client, method)(path, {"name": "pwned", "max_participants": 2, "locked": "1"})

    assert response.status_code == 403
    assert "Only its owner, Alice A., can change" in response.content.decode()
    room.refresh_from_db()
    assert (room.name, room.locked) == ("Daily standup", False)


def test_visitors_are_sent_to_log_in_before_managing(client: Client, room: Room):
    response = client.post("/rooms/standup/delete/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Room.objects.filter(slug="standup").exists()


def test_managing_an_unknown_room_is_a_404(client: Client, alice: User):
    client.force_login(alice)

    assert client.get("/rooms/nowhere/edit/").status_code == 404
    assert client.post("/rooms/nowhere/delete/").status_code == 404


def test_staff_may_manage_any_room(client: Client, room: Room, bob: User):
    bob.is_staff = True
    bob.save()
    client.force_login(bob)

    assert client.post("/rooms/standup/lock/", {"locked": "1"}).status_code == 303
