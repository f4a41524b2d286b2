"""The room admin: lists live counts, sets passwords without showing them, locks in bulk."""

import pytest
from django.test import Client

from accounts.models import User
from rooms import services
from rooms.models import Room
from rooms.tests.conftest import Seat


@pytest.fixture
def admin_browser(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


def test_the_room_list_shows_live_counts(admin_browser: Client, room: Room, bob: User, seat: Seat):
    seat("standup", bob)

    response = admin_browser.get("/admin/rooms/room/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "standup" in page and 'class="field-live_participants">1<' in page


def test_search_and_filters_work(admin_browser: Client, room: Room):
    assert admin_browser.get("/admin/rooms/room/?q=stand").status_code == 200
    assert admin_browser.get("/admin/rooms/room/?locked__exact=1").status_code == 200
    assert admin_browser.get("/admin/rooms/room/?has_password=yes").status_code == 200


def test_the_change_page_never_shows_the_password(admin_browser: Client, alice: User):
    room = services.create_room(slug="secret", name="Secret", owner=alice, password="hush-hush")

    page = admin_browser.get(f"/admin/rooms/room/{room.pk}/change/").content.decode()

    assert "hush-hush" not in page and room.password_hash not in page
    assert 'name="new_password"' in page


def _change(room: Room, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "slug": room.slug,
        "name": room.name,
        "owner": room.owner_id or "",
        "description": room.description,
        "max_participants": room.max_participants,
        "mode": room.mode,
    }
    form.update(changes)
    return form


def test_an_admin_sets_then_clears_a_password(admin_browser: Client, room: Room):
    response = admin_browser.post(f"/admin/rooms/room/{room.pk}/change/", _change(room, new_password="letmein-now"))
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.check_password("letmein-now")

    admin_browser.post(f"/admin/rooms/room/{room.pk}/change/", _change(room, clear_password="on"))
    room.refresh_from_db()
    assert not room.has_password


def test_an_admin_adds_a_room(admin_browser: Client, alice: User):
    assert admin_browser.get("/admin/rooms/room/add/").status_code == 200

    form = {
        "slug": "town-hall",
        "name": "Town hall",
        "owner": alice.pk,
        "max_participants": 20,
        "new_password": "p-long-enough",
        "mode": "relay",
    }
    response = admin_browser.post("/admin/rooms/room/add/", form)

    assert response.status_code == 302
    town_hall = Room.objects.get(slug="town-hall")
    assert town_hall.check_password("p-long-enough")
    assert town_hall.mode == "relay"


def test_an_oversized_room_is_refused_in_the_admin(admin_browser: Client, room: Room, settings):
    settings.ROOM_MAX_PARTICIPANTS_LIMIT = 10

    response = admin_browser.post(f"/admin/rooms/room/{room.pk}/change/", _change(room, max_participants=11))

    assert response.status_code == 200
    assert "between 2 and 10 people" in response.content.decode()


def test_lock_and_unlock_actions(admin_browser: Client, room: Room, alice: User):
    other = services.create_room(slug="retro", owner=alice)
    selected = {"_selected_action": [room.pk, other.pk]}

    admin_browser.post("/admin/rooms/room/", {"action": "lock", **selected})
    assert set(Room.objects.values_list("locked", flat=True)) == {True}

    admin_browser.post("/admin/rooms/room/", {"action": "unlock", **selected})
    assert set(Room.objects.values_list("locked", flat=True)) == {False}


def test_deleting_in_the_admin_goes_through_the_service(admin_browser: Client, room: Room):
    response = admin_browser.post(f"/admin/rooms/room/{room.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Room.objects.exists()


def test_bulk_delete_action(admin_browser: Client, room: Room):
    response = admin_browser.post(
        "/admin/rooms/room/", {"action": "delete_selected", "_selected_action": [room.pk], "post": "yes"}
    )

    assert response.status_code == 302
    assert not Room.objects.exists()


def test_bob_is_not_let_into_the_admin(client: Client, bob: User):
    client.force_login(bob)

    assert client.get("/admin/rooms/room/").status_code == 302
