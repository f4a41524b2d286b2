"""Who is in which room right now, with capacity enforced atomically.

Presence is live state, not a database row: it is what the lobby counts, what
`welcome` lists and what a signal's target is checked against. `LocalPresence`
serves one process (the embedded default); every backend offers the same
`Presence` interface so the consumer and services never know which one runs.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings


@dataclass(frozen=True, slots=True)
class Peer:
    """One admitted connection. `peer_id` is per connection, not per user."""

    peer_id: str
    name: str
    user_id: int | None
    channel_name: str

    def public(self) -> dict[str, Any]:
        """What other browsers are told about this peer."""
        return {"peer_id": self.peer_id, "name": self.name}


class RoomFull(Exception):
    """The room already holds its maximum number of participants."""


class Presence(Protocol):
    async def admit(self, room: str, peer: Peer, capacity: int) -> list[Peer]:
        """Add `peer` unless `room` holds `capacity` peers (raise RoomFull); return the others."""
        ...

    async def resume(self, room: str, peer: Peer, capacity: int) -> tuple[list[Peer], Peer | None]:
        """As `admit`, for a peer coming back under its id: an entry still held under that id
        (its old connection, not yet seen gone) is replaced in the same step and returned, and
        takes no second place against `capacity`."""
        ...

    async def leave(self, room: str, peer_id: str, only: Peer | None = None) -> bool:
        """Remove `peer_id`; with `only`, not if the id now belongs to another connection (it
        resumed elsewhere). False when nothing was removed for that reason."""
        ...

    async def find(self, room: str, peer_id: str) -> Peer | None: ...

    async def members(self, room: str) -> list[Peer]: ...

    def counts(self, rooms: Iterable[str]) -> dict[str, int]:
        """Live participant counts, for pages and commands (synchronous)."""
        ...

    def local_stats(self) -> tuple[int, int]:
        """(rooms, participants) admitted through this process, for metrics."""
        ...

    async def renew(self) -> None:
        """Keep this process's peers alive (shared backends lease them)."""
        ...

    async def sweep(self) -> dict[str, list[Peer]]:
        """Remove peers whose process died; return them by room."""
        ...


class LocalPresence:
    """Presence held in this process. A threading lock, not an asyncio one,
    because synchronous views (the lobby) read it from worker threads."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Peer]] = {}
        self._lock = threading.Lock()

    async def admit(self, room: str, peer: Peer, capacity: int) -> list[Peer]:
        return (await self.resume(room, peer, capacity))[0]

    async def resume(self, room: str, peer: Peer, capacity: int) -> tuple[list[Peer], Peer | None]:
        with self._lock:
            members = self._rooms.setdefault(room, {})
            replaced = members.get(peer.peer_id)
            if len(members) - (replaced is not None) >= capacity:
                raise RoomFull(room)
            others = [other for other in members.values() if other.peer_id != peer.peer_id]
            members[peer.peer_id] = peer
            return others, replaced

    async def leave(self, room: str, peer_id: str, only: Peer | None = None) -> bool:
        with self._lock:
            members = self._rooms.get(room)
            if members is None:
                return True
            if only is not None and members.get(peer_id, only) != only:
                return False
            members.pop(peer_id, None)
            if not members:
                del self._rooms[room]
            return True

    async def find(self, room: str, peer_id: str) -> Peer | None:
        members = self._rooms.get(room)
        return members.get(peer_id) if members else None

    async def members(self, room: str) -> list[Peer]:
        with self._lock:
            return list(self._rooms.get(room, {}).values())

    def counts(self, rooms: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {slug: len(self._rooms.get(slug, ())) for slug in rooms}

    def local_stats(self) -> tuple[int, int]:
        with self._lock:
            return len(self._rooms), sum(len(members) for members in self._rooms.values())

    async def renew(self) -> None:
        """Nothing to renew: peers of this process die with it."""

    async def sweep(self) -> dict[str, list[Peer]]:
        return {}


_presence: Presence | None = None


def get_presence() -> Presence:
    """The process-wide presence backend."""
    global _presence
    if _presence is None:
        if settings.REDIS_URL:
            from signaling.redis_presence import RedisPresence

            _presence = RedisPresence(settings.REDIS_URL, settings.PRESENCE_TTL_SECONDS)
        else:
            _presence = LocalPresence()
    return _presence


def is_shared() -> bool:
    """True when presence spans processes (and needs its leases renewed)."""
    return bool(settings.REDIS_URL)


def reset_presence() -> None:
    """Forget all presence (tests only)."""
    global _presence
    _presence = None
