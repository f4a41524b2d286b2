"""Keys, and requests that read like what an integrating app sends."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from api import services
from signaling.tests.conftest import connect, fresh_channel_layer

__all__ = ["Api", "connect", "fresh_channel_layer"]


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Each test starts with a fresh count of requests per key (the cache may be in memory)."""
    cache.clear()
    yield
    cache.clear()


class Api:
    """An app calling `/api/v1/` with one key (or none, or a wrong one)."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.client = Client()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **query: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key is not None else {}
        url = f"/api/v1{path}"
        if method == "get":
            return self.client.get(url, query, headers=headers)
        if query:
            url += "?" + "&".join(f"{name}={value}" for name, value in query.items())
        send = getattr(self.client, method)
        return send(url, body or {}, content_type="application/json", headers=headers)


@pytest.fixture
def site_api(db: None) -> Api:
    """The operator's key (no owner): every room."""
    return Api(services.create_api_key("lms")[1])


@pytest.fixture
def alice_api(alice: User) -> Api:
    """A key alice made for her own app: her rooms, her rights."""
    return Api(services.create_api_key("alice's app", alice)[1])


@pytest.fixture
def mallory_api(mallory: User) -> Api:
    return Api(services.create_api_key("mallory's app", mallory)[1])
