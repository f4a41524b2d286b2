"""Which worker records which room: one at a time, across processes.

A lease maps a room to the channel of the worker serving it. Embedded (no REDIS_URL),
it is a dict in this process; with Redis it is a key taken with SET NX and a TTL the
worker renews, so a killed worker's rooms become free again on their own.
"""

import asyncio
import time
from typing import Any, Protocol

from django.conf import settings


class Leases(Protocol):
    async def acquire(self, slug: str, channel: str) -> bool:
        """Take room `slug` for `channel`; False if another worker holds it."""
        ...

    async def holder(self, slug: str) -> str | None: ...

    async def renew(self, slug: str, channel: str) -> None: ...

    async def release(self, slug: str, channel: str) -> None: ...


class LocalLeases:
    def __init__(self) -> None:
        self._holders: dict[str, tuple[str, float]] = {}

    async def acquire(self, slug: str, channel: str) -> bool:
        held = await self.holder(slug)
        if held is not None and held != channel:
            return False
        self._holders[slug] = (channel, time.monotonic() + settings.MEDIAWORKER_LEASE_SECONDS)
        return True

    async def holder(self, slug: str) -> str | None:
        held = self._holders.get(slug)
        if held is None or held[1] < time.monotonic():
            return None
        return held[0]

    async def renew(self, slug: str, channel: str) -> None:
        await self.acquire(slug, channel)

    async def release(self, slug: str, channel: str) -> None:
        if self._holders.get(slug, ("", 0.0))[0] == channel:
            del self._holders[slug]


# Release only our own lease: compare and delete in one step.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"


class RedisLeases:
    def __init__(self, url: str) -> None:
        self._url = url
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def _redis(self) -> Any:
        # An asyncio client belongs to the loop that made it: closing a room from synchronous code
        # (`disconnect_room`, a command) asks for the room's holder from a loop of its own.
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = redis.asyncio.Redis.from_url(self._url, decode_responses=True)
            self._loop = loop
        return self._client

    @staticmethod
    def _key(slug: str) -> str:
        return f"mediaworker:room:{slug}"

    async def acquire(self, slug: str, channel: str) -> bool:
        ttl = settings.MEDIAWORKER_LEASE_SECONDS
        if await self._redis.set(self._key(slug), channel, nx=True, ex=ttl):
            return True
        return await self.holder(slug) == channel

    async def holder(self, slug: str) -> str | None:
        value = await self._redis.get(self._key(slug))
        return value.decode() if isinstance(value, bytes) else value

    async def renew(self, slug: str, channel: str) -> None:
        await self._redis.eval(_RENEW, 1, self._key(slug), channel, settings.MEDIAWORKER_LEASE_SECONDS)

    async def release(self, slug: str, channel: str) -> None:
        await self._redis.eval(_RELEASE, 1, self._key(slug), channel)


_leases: Leases | None = None


def get_leases() -> Leases:
    global _leases
    if _leases is None:
        _leases = RedisLeases(settings.REDIS_URL) if settings.REDIS_URL else LocalLeases()
    return _leases


def reset_leases() -> None:
    """Forget every lease (tests only)."""
    global _leases
    _leases = None
