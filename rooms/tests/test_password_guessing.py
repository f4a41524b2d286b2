"""mallory tries to guess a room's password (issue 12): ten wrong tries per room and address
in ten minutes, then the room refuses her address, even with the right password."""

import re
from typing import Any

from django.test import Client

from accounts.models import User
from rooms import services
from rooms.models import Room

RIGHT = "correct horse battery"


def password_room(alice: User, slug: str = "secret") -> Room:
    return services.create_room(slug=slug, name="Secret", owner=alice, password=RIGHT)


def guess(client: Client, password: str, slug: str = "secret", address: str = "203.0.113.66") -> int:
    return client.post(f"/rooms/{slug}/", {"password": password}, REMOTE_ADDR=address).status_code


def refusal(response: Any) -> str:
    found = re.search(r'<p class="refusal">(.*?)</p>', response.content.decode(), re.S)
    assert found, "the page says why"
    return found.group(1)


def test_after_ten_wrong_passwords_even_the_right_one_is_refused_with_when_to_retry(
    client: Client, alice: User, mallory: User
):
    password_room(alice)
    client.force_login(mallory)

    assert [guess(client, f"guess-{n}") for n in range(10)] == [403] * 10
    response = client.post("/rooms/secret/", {"password": RIGHT}, REMOTE_ADDR="203.0.113.66")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many wrong passwords" in page
    assert "Try again in 10 minutes" in page
    assert 0 < int(response["Retry-After"]) <= 600
    assert client.get("/rooms/secret/", REMOTE_ADDR="203.0.113.66").status_code == 429, "no form to try again"
    assert "secret" not in client.session.get("room_access", {}), "the right password did not get in"


def test_the_lockout_looks_the_same_for_right_and_wrong_passwords(client: Client, alice: User, mallory: User):
    password_room(alice)
    client.force_login(mallory)
    for n in range(10):
        guess(client, f"guess-{n}")

    wrong = client.post("/rooms/secret/", {"password": "guess-11"}, REMOTE_ADDR="203.0.113.66")
    right = client.post("/rooms/secret/", {"password": RIGHT}, REMOTE_ADDR="203.0.113.66")

    assert (wrong.status_code, right.status_code) == (429, 429)
    assert refusal(wrong) == refusal(right)
    assert abs(int(wrong["Retry-After"]) - int(right["Retry-After"])) <= 1


def test_bob_elsewhere_and_other_rooms_are_not_locked_out(client: Client, alice: User, bob: User, mallory: User):
    password_room(alice)
    password_room(alice, slug="other")
    client.force_login(mallory)
    for n in range(10):
        guess(client, f"guess-{n}")

    assert guess(client, RIGHT, slug="other") == 303, "another room from the same address"
    bobs = Client()
    bobs.force_login(bob)
    assert guess(bobs, RIGHT, address="198.51.100.7") == 303, "the same room from another address"
    assert bobs.get("/rooms/secret/", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_nine_wrong_passwords_still_leave_the_right_one(client: Client, alice: User, bob: User):
    password_room(alice)
    client.force_login(bob)

    assert [guess(client, f"typo-{n}") for n in range(9)] == [403] * 9
    assert guess(client, RIGHT) == 303


def test_a_new_room_password_must_be_long_enough(client: Client, alice: User):
    client.force_login(alice)

    response = client.post("/", {"slug": "weak", "password": "hush", "max_participants": 4})

    assert response.status_code == 200
    assert response.context["form"].errors["password"] == [
        "Use at least 8 characters: a short room password is quickly guessed."
    ]
    assert not Room.objects.filter(slug="weak").exists()
    page = response.content.decode()
    assert "Use at least 8 characters" in page


def test_a_changed_room_password_must_be_long_enough(client: Client, alice: User, room: Room):
    client.force_login(alice)

    response = client.post(
        "/rooms/standup/edit/", {"name": room.name, "max_participants": 8, "mode": "mesh", "new_password": "1234"}
    )

    assert response.status_code == 200
    assert "Use at least 8 characters" in response.content.decode()
    room.refresh_from_db()
    assert not room.has_password


def test_hopping_addresses_inside_one_ipv6_64_does_not_reset_the_count(client: Client, alice: User, mallory: User):
    """mallory's host has a whole /64: each guess from a new address in it counts the same."""
    password_room(alice)
    client.force_login(mallory)

    statuses = [guess(client, f"guess-{n}", address=f"2001:db8:1:2::{n + 1:x}") for n in range(10)]

    assert statuses == [403] * 10
    assert guess(client, RIGHT, address="2001:db8:1:2:ffff::1") == 429
    assert guess(client, RIGHT, address="2001:db8:1:3::1") == 303, "another /64 is someone else"
