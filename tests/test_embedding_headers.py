"""Who may frame which page (docs/embedding.md): nobody, unless EMBED_ALLOWED_ORIGINS lists a
site; then that site may frame the room page (its refusals included), and nothing else."""

import json
import time
from typing import Any

import jwt
import pytest
from django.test import Client

from accounts.models import User
from rooms.models import Room
from tests.test_content_security_policy import directives
from tests.test_safe_defaults import load_settings

COURSES = "https://learn.example.org"
CLINIC = "https://clinic.example.net:8443"
A_REAL_KEY = "k" * 20 + "-a-real-random-key-of-some-length"


def test_by_default_no_page_may_be_framed(client: Client, bob: User, room: Room):
    client.force_login(bob)

    for path in ("/", "/rooms/standup/"):
        response = client.get(path)
        assert response["X-Frame-Options"] == "DENY", path
        assert directives(client, path)["frame-ancestors"] == ["'none'"], path
    config = json.loads(_call_config(client.get("/rooms/standup/").content.decode()))
    assert config["embed_origins"] == []


def test_listed_sites_may_frame_the_room_page_only(client: Client, bob: User, room: Room, settings: Any):
    settings.EMBED_ALLOWED_ORIGINS = [COURSES, CLINIC]
    client.force_login(bob)

    call_page = client.get("/rooms/standup/")
    assert "X-Frame-Options" not in call_page, "the policy alone says who may frame it"
    assert directives(client, "/rooms/standup/")["frame-ancestors"] == [COURSES, CLINIC]
    assert json.loads(_call_config(call_page.content.decode()))["embed_origins"] == [COURSES, CLINIC]
    for path in ("/", "/accounts/profile/", "/rooms/standup/edit/"):
        response = client.get(path)
        assert response["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path


@pytest.mark.django_db
def test_an_expired_join_token_is_explained_inside_the_frame(client: Client, room: Room, settings: Any):
    settings.EMBED_ALLOWED_ORIGINS = [COURSES]
    settings.JOIN_TOKEN_SECRET = "s" * 32
    claims = {"room": "standup", "name": "Dana", "moderator": False, "exp": int(time.time()) - 10}

    response = client.get("/rooms/standup/", {"jwt": jwt.encode(claims, settings.JOIN_TOKEN_SECRET)})

    assert response.status_code >= 400
    assert "frame-ancestors https://learn.example.org" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response


def test_an_origin_with_a_path_or_a_wildcard_is_refused_at_start():
    for wrong in ("https://learn.example.org/courses", "https://*.example.org", "learn.example.org"):
        done = load_settings(SECRET_KEY=A_REAL_KEY, EMBED_ALLOWED_ORIGINS=wrong)
        assert done.returncode != 0, wrong
        assert "EMBED_ALLOWED_ORIGINS" in done.stderr and "scheme://host[:port]" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("env", "same_site"),
    [
        ({}, "Lax"),
        ({"EMBED_ALLOWED_ORIGINS": COURSES}, "Lax"),  # plain http: only same-site pages can keep a session
        ({"SECURE_COOKIES": "1"}, "Lax"),
        ({"EMBED_ALLOWED_ORIGINS": COURSES, "SECURE_COOKIES": "1"}, "None"),
    ],
)
def test_the_session_cookie_goes_into_third_party_frames_only_over_https_when_embedding(
    env: dict[str, str], same_site: str
):
    code = "from audioexchange import settings as s; print(s.SESSION_COOKIE_SAMESITE, s.SESSION_COOKIE_SECURE)"
    done = load_settings(code, SECRET_KEY=A_REAL_KEY, **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == same_site


def _call_config(html: str) -> str:
    start = html.index('<script id="call-config" type="application/json">') + len(
        '<script id="call-config" type="application/json">'
    )
    return html[start : html.index("</script>", start)]
