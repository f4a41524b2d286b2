"""The last `media-state` each person in a room announced, so a late joiner gets it in `welcome`.

Live state like presence, not a database row. `LocalMediaStates` serves one process;
`RedisMediaStates` (with `REDIS_URL`) keeps a hash `ax:media-state:<slug>` of peer_id -> JSON.
Entries of peers whose process died are left behind until the hash expires; `welcome` only
ever lists the states of peers presence says are in the room.
"""

import asyncio
import json
import threading
from typing import Any, Protocol

import redis.asyncio as aioredis
from django.conf import settings

# A room's hash outlives its last announcement by this long (stale entries go with it).
_REDIS_TTL_SECONDS = 24 * 3600


class MediaStates(Protocol):
    async def save(self, room: str, peer_id: str, state: dict[str, Any]) -> None: ...

    async def forget(self, room: str, peer_id: str) -> None: ...

    async def load(self, room: str, peer_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The saved states of `peer_ids` (those without one are left out)."""
        ...


class LocalMediaStates:
    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    async def save(self, room: str, peer_id: str, state: dict[str, Any]) -> None:
        with self._lock:
            self._rooms.setdefault(room, {})[peer_id] = state

    async def forget(self, room: str, peer_id: str) -> None:
        with self._lock:
            states = self._rooms.get(room)
            if states is not None:
                states.pop(peer_id, None)
                if not states:
                    del self._rooms[room]

    async def load(self, room: str, peer_ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            states = self._rooms.get(room, {})
            return {peer_id: states[peer_id] for peer_id in peer_ids if peer_id in states}


class RedisMediaStates:
    def __init__(self, url: str) -> None:
        self._url = url
        self._client: aioredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def client(self) -> aioredis.Redis:
        # An asyncio client belongs to the loop that made it: make one per serving loop.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aioredis.Redis.from_url(self._url, socket_timeout=5, socket_connect_timeout=2)
            self._loop = loop
        return self._client

    async def save(self, room: str, peer_id: str, state: dict[str, Any]) -> None:
        key = _key(room)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, peer_id, json.dumps(state))
        pipe.expire(key, _REDIS_TTL_SECONDS)
        await pipe.execute()

    async def forget(self, room: str, peer_id: str) -> None:
        await self.client.hdel(_key(room), peer_id)  # type: ignore[misc]

    async def load(self, room: str, peer_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not peer_ids:
            return {}
        values = await self.client.hmget(_key(room), peer_ids)  # type: ignore[misc]
        return {peer_id: json.loads(raw) for peer_id, raw in zip(peer_ids, values, strict=True) if raw is not None}


def _key(room: str) -> str:
    return f"ax:media-state:{room}"


_states: MediaStates | None = None


def get_media_states() -> MediaStates:
    """The process-wide store, matching the presence backend."""
    global _states
    if _states is None:
        _states = RedisMediaStates(settings.REDIS_URL) if settings.REDIS_URL else LocalMediaStates()
    return _states


def reset_media_states() -> None:
    """Forget every state (tests only)."""
    global _states
    _states = None
