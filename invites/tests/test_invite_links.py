"""Invite links: shown once, stored hashed, spent exactly as many times as allowed,
and a clear page (410) once they expired, were withdrawn or are used up."""

import hashlib
import threading
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from invites import services
from invites.models import Invite
from rooms.models import Room

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_owner_makes_a_link_that_is_shown_once_and_stored_hashed(client: Client, alice: User, room: Room):
    client.force_login(alice)

    response = client.post("/rooms/standup/invites/", {"label": "for Gus", "max_uses": "1"})

    assert response.status_code == 200
    link = response.context["link"]
    assert link.startswith("http://testserver/i/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    invite = Invite.objects.get()
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invite.objects.values().get())
    listing = client.get("/rooms/standup/invites/")
    assert "for Gus" in listing.content.decode() and token not in listing.content.decode()


def test_only_the_owner_manages_invites(client: Client, bob: User, room: Room):
    client.force_login(bob)
    assert client.post("/rooms/standup/invites/", {"max_uses": "1"}).status_code == 403
    assert not Invite.objects.exists()


def test_a_guest_names_themself_and_gets_the_call_page(alice: User, room: Room):
    _, token = services.create_invite(room, alice)
    guest = Client()

    assert guest.get("/rooms/standup/").status_code == 302, "no account, no invite: log in"
    form = guest.get(f"/i/{token}/")
    assert form.status_code == 200 and "Join “Daily standup” as a guest" in form.content.decode()
    assert guest.post(f"/i/{token}/", {"name": "  "}).status_code == 200, "a name is required"
    assert guest.post(f"/i/{token}/", {"name": "Gus"})["Location"] == "/rooms/standup/"

    page = guest.get("/rooms/standup/")
    assert page.status_code == 200
    config = page.context["call_config"]
    assert config["display_name"] == "Gus (guest)"
    assert (config["can_moderate"], config["can_record"], page.context["can_manage"]) == (False, False, False)
    assert guest.post("/", {"slug": "guests-room"}).status_code == 302, "guests create no rooms"
    assert not Room.objects.filter(slug="guests-room").exists()


def test_a_single_use_link_works_once(alice: User, room: Room):
    _, token = services.create_invite(room, alice, max_uses=1)

    gus = Client()
    assert gus.post(f"/i/{token}/", {"name": "Gus"}).status_code == 303
    assert gus.get(f"/i/{token}/")["Location"] == "/rooms/standup/", "Gus opening it again spends nothing"
    second = Client().post(f"/i/{token}/", {"name": "Gil"})

    assert second.status_code == 410
    assert "This invite is used up" in second.content.decode()
    assert Invite.objects.get().uses == 1


def test_an_expired_link_says_so(alice: User, room: Room):
    _, token = services.create_invite(room, alice, expires_at=timezone.now() - timedelta(minutes=1))

    response = Client().get(f"/i/{token}/")

    assert response.status_code == 410
    assert "This invite has expired" in response.content.decode()
    assert "Ask Alice A. for a new link." in response.content.decode()


def test_a_withdrawn_link_says_so_and_its_guests_cannot_come_back(client: Client, alice: User, room: Room):
    invite, token = services.create_invite(room, alice)
    guest = Client()
    guest.post(f"/i/{token}/", {"name": "Gus"})
    client.force_login(alice)

    client.post("/rooms/standup/invites/revoke/", {"invite": invite.pk})

    response = guest.get(f"/i/{token}/")
    assert response.status_code == 410 and "withdrew this invite" in response.content.decode()
    assert guest.get("/rooms/standup/").status_code == 302, "the guest grant went with the invite"


def test_an_unknown_link_is_not_found(room: Room):
    response = Client().get("/i/not-a-real-token/")
    assert response.status_code == 404
    assert "This invite link is not valid" in response.content.decode()


# Runs in the PostgreSQL pass (make test gives it REDIS_URL and DATABASE_URL): the test
# database of the embedded pass is SQLite's shared in-memory cache, where concurrent writers
# fail with "table is locked" instead of waiting, which says nothing about the invite.
@pytest.mark.redis_only
def test_people_racing_for_the_last_use_cannot_both_get_it(alice: User, room: Room):
    """Eight sessions open a 3-use link that has one use left, at the same instant."""
    invite, _ = services.create_invite(room, alice, max_uses=3)
    Invite.objects.filter(pk=invite.pk).update(uses=2)
    racers = 8
    start = threading.Barrier(racers)
    outcomes: list[str] = []

    def race(number: int) -> None:
        start.wait()
        try:
            services.redeem(invite, SessionStore(), f"guest {number}")
            outcomes.append("in")
        except services.InviteUnusable as refusal:
            outcomes.append(refusal.title)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(number,)) for number in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("in") == 1, outcomes
    assert outcomes.count("This invite is used up") == racers - 1, outcomes
    assert Invite.objects.get().uses == 3
