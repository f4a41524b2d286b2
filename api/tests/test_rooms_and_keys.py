"""The REST API on rooms, invites and join tokens, as an integrating app uses it: every
endpoint refuses a missing or wrong key with a JSON code and sentence, and works with a good one."""

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from api.models import ApiKey
from api.services import hash_key
from api.tests.conftest import Api
from rooms import services as room_services
from rooms.models import Room

pytestmark = pytest.mark.django_db

ONE_ROOMS_ENDPOINTS = [
    ("get", "/rooms/standup"),
    ("patch", "/rooms/standup"),
    ("delete", "/rooms/standup"),
    ("post", "/rooms/standup/invites"),
    ("post", "/rooms/standup/join-tokens"),
    ("get", "/rooms/standup/participants"),
    ("delete", "/rooms/standup/participants/abc"),
    ("post", "/rooms/standup/lock"),
    ("post", "/rooms/standup/unlock"),
    ("post", "/rooms/standup/end"),
    ("post", "/rooms/standup/recording/start"),
    ("post", "/rooms/standup/recording/stop"),
    ("get", "/rooms/standup/recordings"),
]
WEBHOOK_ENDPOINTS = [("get", "/webhooks"), ("post", "/webhooks"), ("delete", "/webhooks/1")]
EVERY_ENDPOINT = [
    ("get", "/rooms"),
    ("post", "/rooms"),
    *ONE_ROOMS_ENDPOINTS,
    ("get", "/recordings/1"),
    *WEBHOOK_ENDPOINTS,
]


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["message"], "every refusal carries a sentence"
    return body


@pytest.mark.parametrize(("method", "path"), EVERY_ENDPOINT)
def test_every_endpoint_refuses_a_request_without_a_key(room: Room, method: str, path: str):
    refused(Api(None).call(method, path), 401, "no_key")
    assert Room.objects.filter(slug="standup", locked=False).exists()


@pytest.mark.parametrize(("method", "path"), EVERY_ENDPOINT)
def test_every_endpoint_refuses_a_wrong_key(room: Room, method: str, path: str):
    response = Api("ax_not-a-key-anyone-made").call(method, path)
    refused(response, 401, "bad_key")
    assert response["WWW-Authenticate"] == "Bearer"
    assert Room.objects.filter(slug="standup", locked=False).exists()


def test_a_revoked_key_is_refused(alice_api: Api, room: Room):
    ApiKey.objects.update(revoked=True)
    refused(alice_api.call("get", "/rooms"), 401, "bad_key")


def test_createapikey_prints_a_key_once_and_keeps_only_its_hash(alice: User, room: Room):
    out = io.StringIO()
    call_command("createapikey", "crm", "--owner", "alice", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip()

    key = ApiKey.objects.get(name="crm")
    assert key.owner == alice and key.key_hash == hash_key(raw) and raw not in key.key_hash
    assert Api(raw).call("get", "/rooms").json()["items"][0]["slug"] == "standup"


def test_alice_creates_reads_changes_and_deletes_a_room(alice_api: Api, bob: User):
    created = alice_api.call("post", "/rooms", {"slug": "retro", "name": "Retro", "max_participants": 6})
    assert created.status_code == 201, created.content
    assert created.json() | {"url": ""} == {
        "slug": "retro",
        "name": "Retro",
        "description": "",
        "url": "",
        "owner": "alice",
        "max_participants": 6,
        "audio_only": False,
        "mode": "mesh",
        "locked": False,
        "knock": False,
        "has_password": False,
        "moderators": [],
        "participants": 0,
    }
    assert created.json()["url"] == "http://testserver/rooms/retro/"

    changes = {"knock": True, "moderators": ["bob"], "password": "hunter22", "mode": "auto"}
    changed = alice_api.call("patch", "/rooms/retro", changes).json()
    assert (changed["knock"], changed["moderators"], changed["has_password"], changed["mode"]) == (
        True,
        ["bob"],
        True,
        "auto",
    )
    assert changed["name"] == "Retro" and changed["max_participants"] == 6, "what was not sent stays"
    assert alice_api.call("get", "/rooms/retro").json() == changed

    assert alice_api.call("delete", "/rooms/retro").status_code == 204
    defaults = alice_api.call("post", "/rooms", {"slug": "plain"}).json()
    assert (defaults["max_participants"], defaults["mode"], defaults["name"]) == (8, "mesh", "plain")
    refused(alice_api.call("get", "/rooms/retro"), 404, "room_not_found")


def test_the_room_forms_checks_apply(alice_api: Api, room: Room, settings: Any):
    body = refused(alice_api.call("post", "/rooms", {"slug": "standup"}), 422, "invalid")
    assert "already a room" in body["errors"]["slug"][0]
    body = refused(alice_api.call("post", "/rooms", {"slug": "big", "max_participants": 10_000}), 422, "invalid")
    assert "between 2 and" in body["errors"]["max_participants"][0]
    body = refused(alice_api.call("patch", "/rooms/standup", {"moderators": ["nobody"]}), 422, "invalid")
    assert "No account named nobody" in body["message"]
    refused(alice_api.call("patch", "/rooms/standup", {"max_participants": "many"}), 422, "invalid")
    refused(alice_api.call("post", "/rooms", {"slug": "has space"}), 422, "invalid")


def test_listings_are_paginated(site_api: Api, alice: User):
    room_services.create_rooms(["a1", "a2", "a3"], owner=alice)

    page = site_api.call("get", "/rooms", limit=2, offset=1).json()
    assert page["count"] == 3
    assert [room["slug"] for room in page["items"]] == ["a2", "a3"]
    refused(site_api.call("get", "/rooms", limit=10_000), 422, "invalid")


def test_a_users_key_reaches_only_their_rooms(mallory_api: Api, site_api: Api, room: Room):
    assert mallory_api.call("get", "/rooms").json() == {"items": [], "count": 0}
    for method, path in ONE_ROOMS_ENDPOINTS:
        refused(mallory_api.call(method, path, {"name": "Mal"}), 404, "room_not_found")
    refused(mallory_api.call("get", "/recordings/1"), 404, "recording_not_found")
    for method, path in WEBHOOK_ENDPOINTS:
        refused(mallory_api.call(method, path, {"url": "https://mallory.example/"}), 403, "site_key_only")
    assert site_api.call("get", "/rooms/standup").json()["owner"] == "alice"


def test_an_invite_link_from_the_api_lets_a_guest_in(alice_api: Api, room: Room):
    made = alice_api.call("post", "/rooms/standup/invites", {"max_uses": 1, "label": "for Gus"})
    assert made.status_code == 201
    assert made.json()["max_uses"] == 1

    guest = Client()
    link = made.json()["url"].removeprefix("http://testserver")
    assert guest.post(link, {"name": "Gus"}).status_code == 303
    assert guest.get("/rooms/standup/").status_code == 200
    refused(alice_api.call("post", "/rooms/standup/invites", {"max_uses": 0}), 422, "invalid")


def test_a_join_token_from_the_api_opens_the_room(alice_api: Api, room: Room, settings: Any):
    settings.JOIN_TOKEN_SECRET = "api-test-secret-0123456789abcdef0123"
    made = alice_api.call("post", "/rooms/standup/join-tokens", {"name": "Dana", "moderator": True, "seconds": 600})
    assert made.status_code == 201, made.content

    browser = Client()
    assert browser.get(made.json()["url"].removeprefix("http://testserver")).status_code == 303
    assert browser.get("/rooms/standup/").status_code == 200
    body = refused(
        alice_api.call("post", "/rooms/standup/join-tokens", {"name": "D", "seconds": 10**7}), 422, "invalid"
    )
    assert "at most" in body["message"]

    settings.JOIN_TOKEN_SECRET = ""
    refused(alice_api.call("post", "/rooms/standup/join-tokens", {"name": "Dana"}), 409, "join_tokens_off")


def test_a_key_past_its_rate_is_told_to_slow_down(alice_api: Api, site_api: Api, room: Room, settings: Any):
    settings.API_RATE_PER_MINUTE = 3
    for _ in range(3):
        assert alice_api.call("get", "/rooms").status_code == 200
    refused(alice_api.call("get", "/rooms"), 429, "rate_limited")
    assert site_api.call("get", "/rooms").status_code == 200, "the count is per key: another app goes on"


def test_the_schema_is_served_without_a_key():
    schema = Client().get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Audio Exchange API"
    assert "/api/v1/rooms/{slug}/participants" in schema["paths"]
    assert schema["components"]["securitySchemes"]["BearerKey"]["scheme"] == "bearer"


def test_an_unknown_api_address_is_a_json_404(alice_api: Api):
    refused(alice_api.call("get", "/nothing-here"), 404, "not_found")


def test_a_wrong_method_is_a_json_405(alice_api: Api, room: Room):
    response = alice_api.call("put", "/rooms/standup")
    refused(response, 405, "method_not_allowed")
    assert set(response["Allow"].split(", ")) == {"GET", "PATCH", "DELETE"}


def test_a_site_key_manages_webhook_endpoints(site_api: Api):
    made = site_api.call("post", "/webhooks", {"url": "https://lms.example.org/hooks", "events": ["room.ended"]})
    assert made.status_code == 201, made.content
    assert made.json()["secret"].startswith("whsec_")
    listed = site_api.call("get", "/webhooks").json()
    assert [(item["url"], item["events"]) for item in listed["items"]] == [
        ("https://lms.example.org/hooks", ["room.ended"])
    ]
    assert "secret" not in listed["items"][0], "shown once, when made"

    body = refused(
        site_api.call("post", "/webhooks", {"url": "https://x.example/", "events": ["room.exploded"]}), 422, "invalid"
    )
    assert "room.exploded" in body["message"]
    refused(site_api.call("post", "/webhooks", {"url": "ftp://x.example/"}), 422, "invalid")
    assert site_api.call("delete", f"/webhooks/{made.json()['id']}").status_code == 204
    refused(site_api.call("delete", f"/webhooks/{made.json()['id']}"), 404, "webhook_not_found")
