"""Recordings are found: the lobby, the room's page (before and during the call) and its
settings link to /rooms/<slug>/recordings/ for whoever may see them, and for nobody else."""

from django.test import Client

from accounts.models import User
from rooms.models import Room

RECORDINGS = 'href="/rooms/standup/recordings/"'


def test_alice_finds_her_rooms_recordings_from_the_lobby_the_room_and_its_settings(
    client: Client, room: Room, alice: User
):
    client.force_login(alice)

    lobby = client.get("/").content.decode()
    page = client.get("/rooms/standup/").content.decode()
    settings_page = client.get("/rooms/standup/edit/").content.decode()

    assert RECORDINGS in lobby
    assert page.count(RECORDINGS) == 2, "on the pre-join screen and beside the call"
    assert 'target="_blank"' in page, "from the call, in a new tab: the call goes on"
    assert RECORDINGS in settings_page
    assert client.get("/rooms/standup/recordings/").status_code == 200


def test_bob_who_joined_sees_the_room_but_no_way_to_its_recordings(client: Client, room: Room, bob: User):
    client.force_login(bob)

    page = client.get("/rooms/standup/").content.decode()  # joining makes it one of his rooms
    lobby = client.get("/").content.decode()

    assert "Daily standup" in lobby
    assert RECORDINGS not in lobby and RECORDINGS not in page
    assert client.get("/rooms/standup/recordings/").status_code == 404
