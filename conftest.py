"""Fixtures shared by every app's tests: named people and rooms that read as a story.

alice owns rooms, bob and carol join them, mallory attacks them.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from accounts.models import User
from rooms import services as room_services
from rooms.models import Room
from signaling.mediastate import reset_media_states
from signaling.presence import reset_presence

PASSWORD = "correct horse battery staple"

# Property tests check what is accepted and refused, not speed: hypothesis's per-example
# deadline (200 ms) and its "too slow" health check fail them on a loaded CI machine.
hypothesis_settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("suite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run `embedded_only` tests without REDIS_URL and `redis_only` ones with it; `make test`
    runs both passes, so each runs once (deselected, not skipped, in the other). `postgres_only`
    ones run where the database is PostgreSQL (the pass with REDIS_URL)."""
    from django.conf import settings

    unwanted = {"embedded_only" if settings.REDIS_URL else "redis_only"}
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        unwanted.add("postgres_only")
    deselected = [item for item in items if any(item.get_closest_marker(name) for name in unwanted)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        gone = set(deselected)
        items[:] = [item for item in items if item not in gone]


def make_user(username: str, display_name: str = "") -> User:
    return User.objects.create_user(username=username, password=PASSWORD, display_name=display_name)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Real hashing costs ~0.3 s a user; tests check behaviour, not hash strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_presence(settings: Any) -> Iterator[None]:
    """Each test starts with nobody in any room (with REDIS_URL, a test-only Redis database)."""
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    reset_presence()
    reset_media_states()
    clear_counters()
    yield
    reset_presence()
    reset_media_states()


def clear_counters() -> None:
    """Rate-limit counts live in Django's cache (Redis, flushed above, or this process's memory)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice", "Alice A.")


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob", "Bob B.")


@pytest.fixture
def carol(db: None) -> User:
    return make_user("carol")


@pytest.fixture
def mallory(db: None) -> User:
    return make_user("mallory", "Mallory")


@pytest.fixture
def room(alice: User) -> Room:
    return room_services.create_room(slug="standup", name="Daily standup", owner=alice)
