"""The lobby lists every room with who is there now, and lets people create rooms."""

from django.test import Client
from django.urls import reverse

from accounts.models import User
from rooms import services
from rooms.models import Room
from rooms.tests.conftest import Seat


def test_visitor_sees_a_prompt_to_log_in_and_no_rooms(client: Client, room: Room, bob, carol, seat: Seat):
    seat("standup", bob, carol)

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Daily standup" not in page and "/rooms/standup/" not in page
    assert "Alice A." not in page and "Bob B." not in page, "no owner, nobody who is in a room"
    assert "/ 8" not in page, "no live counts"
    assert reverse("signup") in page and reverse("login") in page
    assert "to see your rooms" in page
    assert 'name="slug"' not in page, "no create form for anonymous visitors"
    assert list(response.context["listings"]) == []


def test_owner_sees_rooms_with_live_counts(client: Client, room: Room, alice: User, bob, carol, seat: Seat):
    seat("standup", bob, carol)
    client.force_login(alice)

    response = client.get("/")

    page = response.content.decode()
    assert "Daily standup" in page
    assert "2 / 8" in page
    assert response.context["listings"][0].participants == 2


def test_busy_rooms_come_first_and_badges_say_why_you_may_not_get_in(client: Client, alice: User, bob, seat: Seat):
    services.create_room(slug="quiet", name="A quiet room", owner=alice)
    services.create_room(slug="pair", name="Pair", owner=alice, max_participants=2, audio_only=True)
    secret = services.create_room(slug="secret", name="Secret", owner=alice, password="hush")
    services.set_locked(secret, True)
    seat("pair", alice, bob)
    client.force_login(alice)

    response = client.get("/")

    listings = response.context["listings"]
    assert [listing.room.slug for listing in listings] == ["pair", "quiet", "secret"]
    page = response.content.decode()
    for badge in ("badge-full", "badge-audio", "badge-locked", "badge-password"):
        assert badge in page


def test_bob_creates_a_room_and_lands_in_it(client: Client, bob: User):
    client.force_login(bob)
    form = {"slug": "book-club", "name": "Book club", "description": "Chapter 3", "max_participants": 5}

    response = client.post("/", form)

    room = Room.objects.get(slug="book-club")
    assert response.status_code == 303
    assert response["Location"] == "/rooms/book-club/"
    assert (room.owner, room.name, room.max_participants, room.has_password, room.audio_only) == (
        bob,
        "Book club",
        5,
        False,
        False,
    )
    assert "created" in client.get("/").content.decode()


def test_a_room_created_with_a_password_stores_only_its_hash(client: Client, bob: User):
    client.force_login(bob)

    client.post("/", {"slug": "private", "password": "s3cret!-long", "max_participants": 4, "audio_only": "on"})

    room = Room.objects.get(slug="private")
    assert room.name == "private", "the name defaults to the slug"
    assert room.audio_only
    assert room.has_password and "s3cret!" not in room.password_hash
    assert room.check_password("s3cret!-long")


def test_a_taken_slug_is_a_form_error_not_a_crash(client: Client, room: Room, bob: User):
    client.force_login(bob)

    response = client.post("/", {"slug": "standup", "name": "Mine now", "max_participants": 4})

    assert response.status_code == 200
    assert "There is already a room at /rooms/standup/" in str(response.context["form"].errors["slug"])
    assert Room.objects.get(slug="standup").owner != bob


def test_bad_values_are_form_errors(client: Client, bob: User, settings):
    settings.ROOM_MAX_PARTICIPANTS_LIMIT = 12
    client.force_login(bob)

    response = client.post("/", {"slug": "no spaces!", "max_participants": 13, "name": "x" * 121})

    errors = response.context["form"].errors
    assert response.status_code == 200
    assert "letters, digits, hyphens and underscores" in errors["slug"][0]
    assert "between 2 and 12 people" in errors["max_participants"][0]
    assert "name" in errors
    assert not Room.objects.exists()


def test_too_small_a_room_is_refused(client: Client, bob: User):
    client.force_login(bob)

    response = client.post("/", {"slug": "solo", "max_participants": 1})

    assert "between 2 and" in response.context["form"].errors["max_participants"][0]


def test_anonymous_post_is_sent_to_log_in(client: Client, db):
    response = client.post("/", {"slug": "sneaky", "max_participants": 4})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Room.objects.exists()


def test_the_create_form_needs_a_csrf_token(bob: User):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)

    response = client.post("/", {"slug": "forged", "max_participants": 4})

    assert response.status_code == 403
    assert not Room.objects.exists()


def test_owners_see_a_settings_link_only_for_their_rooms(client: Client, room: Room, alice: User, mallory: User):
    client.force_login(mallory)
    client.get("/rooms/standup/")  # now a room mallory has been in
    page = client.get("/").content.decode()
    assert "/rooms/standup/" in page
    assert reverse("room-edit", args=["standup"]) not in page

    client.force_login(alice)
    assert reverse("room-edit", args=["standup"]) in client.get("/").content.decode()


def test_a_taken_slug_and_a_bad_size_are_reported_together(client: Client, room: Room, bob: User):
    client.force_login(bob)

    response = client.post("/", {"slug": "standup", "max_participants": 99})

    assert set(response.context["form"].errors) == {"slug", "max_participants"}


def test_a_room_alice_lists_is_seen_by_everyone_signed_in_and_still_by_no_visitor(
    client: Client, room: Room, alice: User, carol: User
):
    services.create_room(slug="private", name="Private talk", owner=alice)
    client.force_login(alice)
    form = {"name": "Daily standup", "max_participants": 8, "mode": "mesh", "public": "on"}
    assert client.post("/rooms/standup/edit/", form).status_code == 303
    client.logout()

    assert "Daily standup" not in client.get("/").content.decode(), "visitors see no room, listed or not"
    client.force_login(carol)
    page = client.get("/").content.decode()

    assert "Daily standup" in page, "listed: carol, who never joined, sees it"
    assert "Private talk" not in page
