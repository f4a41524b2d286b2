"""What the lobby shows and how many rooms one person may make (issue 12): mallory cannot
list everyone's rooms, nor fill the database with rooms of her own."""

from django.test import Client

from accounts.models import User
from conftest import make_user
from rooms import services
from rooms.models import Room


def slugs_in_lobby(client: Client, page: int = 1) -> list[str]:
    response = client.get(f"/?page={page}")
    assert response.status_code == 200
    return [listing.room.slug for listing in response.context["listings"]]


def test_mallory_does_not_see_rooms_she_has_no_part_in(client: Client, room: Room, alice: User, mallory: User):
    services.create_room(slug="board", name="Board meeting", owner=alice)
    client.force_login(mallory)

    response = client.get("/")

    assert slugs_in_lobby(client) == []
    assert "Board meeting" not in response.content.decode()


def test_bob_sees_rooms_he_owns_moderates_or_has_joined(client: Client, room: Room, alice: User, bob: User):
    services.create_room(slug="bobs", name="Bob's", owner=bob)
    moderated = services.create_room(slug="moderated", name="Moderated", owner=alice)
    moderated.moderators.add(bob)
    services.create_room(slug="unknown", name="Unknown", owner=alice)
    client.force_login(bob)
    assert sorted(slugs_in_lobby(client)) == ["bobs", "moderated"]

    assert client.get("/rooms/standup/").status_code == 200  # bob joins alice's standup

    assert sorted(slugs_in_lobby(client)) == ["bobs", "moderated", "standup"]


def test_a_password_room_is_listed_only_after_the_password(client: Client, alice: User, bob: User):
    services.create_room(slug="vault", name="Vault", owner=alice, password="correct horse battery")
    client.force_login(bob)

    client.get("/rooms/vault/")  # the password form
    client.post("/rooms/vault/", {"password": "wrong guess"})
    assert slugs_in_lobby(client) == []

    client.post("/rooms/vault/", {"password": "correct horse battery"})
    client.get("/rooms/vault/")
    assert slugs_in_lobby(client) == ["vault"]


def test_staff_see_every_room(client: Client, room: Room, alice: User):
    admin = make_user("admin")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)

    assert slugs_in_lobby(client) == ["standup"]


def test_the_lobby_is_paginated(client: Client, alice: User):
    services.create_rooms([f"room-{n:02}" for n in range(45)], owner=alice)
    client.force_login(alice)

    first, second, third = (slugs_in_lobby(client, page) for page in (1, 2, 3))

    assert (len(first), len(second), len(third)) == (20, 20, 5)
    assert len(set(first + second + third)) == 45
    page = client.get("/?page=2").content.decode()
    assert 'href="?page=1"' in page and 'href="?page=3"' in page
    assert slugs_in_lobby(client, 99) == third, "past the end: the last page"


def test_a_person_owns_at_most_rooms_per_user_rooms(client: Client, bob: User, settings):
    settings.ROOMS_PER_USER = 3
    services.create_rooms(["one", "two", "three"], owner=bob)
    client.force_login(bob)

    response = client.post("/", {"slug": "four", "max_participants": 4})

    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors == [
        "You already own 3 rooms, the most one person may have. Delete one you no longer use "
        "(from its Settings page), then create this one."
    ]
    assert "You already own 3 rooms" in response.content.decode()
    assert not Room.objects.filter(slug="four").exists()


def test_staff_are_not_held_to_the_room_quota(client: Client, settings, db):
    settings.ROOMS_PER_USER = 1
    admin = make_user("admin")
    admin.is_staff = True
    admin.save()
    services.create_room(slug="first", owner=admin)
    client.force_login(admin)

    response = client.post("/", {"slug": "second", "max_participants": 4})

    assert response.status_code == 303
    assert Room.objects.filter(owner=admin).count() == 2
