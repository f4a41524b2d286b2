"""While Redis is away (restarting), pages that count attempts in it say so with a 503 and a
sentence, not a bare 500 (the sign-in form and a room's password form)."""

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from conftest import PASSWORD
from rooms.models import Room
from tests.live_server import free_port


@pytest.fixture
def redis_away(settings: Any) -> None:
    """The cache is a Redis nobody listens to (as during a Redis restart)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }


def assert_restarting(response: Any) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert "Audio Exchange is restarting" in page
    assert "Try again in a minute" in page
    assert "service_restarting" in page


def test_signing_in_while_redis_restarts_says_so(client: Client, bob: User, redis_away: None):
    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})

    assert_restarting(response)
    assert not response.wsgi_request.user.is_authenticated


def test_a_room_password_while_redis_restarts_says_so(client: Client, bob: User, room: Room, redis_away: None):
    room.set_password("correct horse battery")
    room.save()
    client.force_login(bob)

    assert_restarting(client.get(room.get_absolute_url()))
    assert_restarting(client.post(room.get_absolute_url(), {"password": "correct horse battery"}))
