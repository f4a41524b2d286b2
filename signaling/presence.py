"""Who is in which room right now, with capacity enforced atomically.

Presence is live state, not a database row: it is what the lobby counts, what
`welcome` lists and what a signal's target is checked against. `LocalPresence`
serves one process (the embedded default); every backend offers the same
`Presence` interface so the consumer and services never know which one runs.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings


@dataclass(frozen=True, slots=True)
class Peer:
    """One admitted connection. `peer_id` is per connection, not per user.

    `person` names the human behind it across their connections (`Identity.key`: the user id,
    or `guest-<guest id>`); `address` and `invite_id` are what a ban records (docs/protocol.md,
    Moderation)."""

    peer_id: str
    name: str
    user_id: int | None
    channel_name: str
    person: str = ""
    address: str = ""
    invite_id: int | None = None

    @property
    def guest_id(self) -> str:
        return self.person.removeprefix(GUEST_PREFIX) if self.person.startswith(GUEST_PREFIX) else ""

    def public(self) -> dict[str, Any]:
        """What other browsers are told about this peer (`guest`: came in by an invite link)."""
        if self.guest_id:
            return {"peer_id": self.peer_id, "name": self.name, "guest": True}
        return {"peer_id": self.peer_id, "name": self.name}


GUEST_PREFIX = "guest-"
# Presence keys of waiting lists (signaling.moderation.waiting_key): nobody there has joined, so
# nobody there departs.
WAITING_PREFIX = "waiting."
# A process settling a lapsed departure holds it this long; if it dies meanwhile, another takes it.
SETTLE_CLAIM_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Departure:
    """A peer whose connection dropped, resumable, and who has not come back under its id.

    `overdue`: its resume window has closed, so it is gone for good (and may be being settled).
    `others`: the people still in the room, or still able to come back to it, besides it."""

    room: str
    peer: Peer
    overdue: bool = False
    others: int = 0


def departed_seconds() -> float:
    """How long a peer that left can still be found by `find_recent` (a moderator acting on
    someone whose socket dropped a moment before): as long as its tile may wait for a resume."""
    return float(settings.SIGNALING_RESUME_SECONDS)


class RoomFull(Exception):
    """The room already holds its maximum number of participants."""


class TooManyConnections(Exception):
    """This person already holds `ROOM_SOCKETS_PER_PERSON` sockets in the room (or at its door)."""


class Barred(Exception):
    """A moderator has just barred this person from the room (see `Presence.bar`)."""


# Per-person limits of one admission: at most `per_person` live entries of `peer.person` in the
# room's key and in `sibling` (the room's waiting list, or the room for a waiting list) together;
# a person barred (`Presence.bar`) under either key is refused.
@dataclass(frozen=True, slots=True)
class PersonLimit:
    per_person: int = 0  # 0: no limit
    sibling: str = ""


NO_LIMIT = PersonLimit()


class Presence(Protocol):
    async def admit(self, room: str, peer: Peer, capacity: int, limit: PersonLimit = NO_LIMIT) -> list[Peer]:
        """Add `peer` unless `room` holds `capacity` peers (raise RoomFull), its person already
        holds `limit.per_person` entries (TooManyConnections) or was just barred (Barred);
        return the others."""
        ...

    async def resume(
        self, room: str, peer: Peer, capacity: int, limit: PersonLimit = NO_LIMIT
    ) -> tuple[list[Peer], Peer | None]:
        """As `admit`, for a peer coming back under its id: an entry still held under that id
        (its old connection, not yet seen gone) is replaced in the same step and returned, and
        takes no second place against `capacity` nor against `limit`."""
        ...

    async def find_recent(self, room: str, peer_id: str) -> Peer | None:
        """`find`, or the entry of a peer that left `room` in the last `departed_seconds()`."""
        ...

    async def bar(self, room: str, person: str, seconds: float) -> None:
        """Refuse `person` (`Barred`) in `room` for `seconds`: closes the window between a
        join's ban check in the database and its taking a place."""
        ...

    async def leave(self, room: str, peer_id: str, only: Peer | None = None, resumable: bool = False) -> bool:
        """Remove `peer_id`; with `only`, not if the id now belongs to another connection (it
        resumed elsewhere). False when nothing was removed for that reason. `resumable`: it
        may come back under its id within `departed_seconds()`: a `Departure` is kept until it
        does (`take_back`) or the window closes (`lapsed_departures`). The sweep keeps one for
        each peer of a dead process."""
        ...

    async def take_back(self, room: str, peer_id: str) -> Departure | None:
        """A peer came back under its id: forget its departure, and return it (None if none was kept)."""
        ...

    async def lapsed_departures(self) -> list[Departure]:
        """Departures whose window has closed, each claimed for `SETTLE_CLAIM_SECONDS`: no other
        process gets it meanwhile; `settled` ends it, else it is given out again after that."""
        ...

    async def settled(self, departure: Departure) -> None:
        """The departure's news went out: forget it."""
        ...

    async def departing(self, room: str) -> int:
        """How many of `room`'s peers dropped and may still come back."""
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
        # (room, peer_id) -> (monotonic expiry, peer), oldest first: every entry lives as long.
        self._departed: OrderedDict[tuple[str, str], tuple[float, Peer]] = OrderedDict()
        self._barred: dict[tuple[str, str], float] = {}
        # (room, peer_id) -> [monotonic end of its window, peer, monotonic end of a claim]
        self._leaving: dict[tuple[str, str], tuple[float, Peer, float]] = {}

    async def admit(self, room: str, peer: Peer, capacity: int, limit: PersonLimit = NO_LIMIT) -> list[Peer]:
        return (await self.resume(room, peer, capacity, limit))[0]

    async def resume(
        self, room: str, peer: Peer, capacity: int, limit: PersonLimit = NO_LIMIT
    ) -> tuple[list[Peer], Peer | None]:
        with self._lock:
            now = time.monotonic()
            if any(self._barred.get((key, peer.person), 0) > now for key in (room, limit.sibling)):
                raise Barred(room)
            members = self._rooms.setdefault(room, {})
            replaced = members.get(peer.peer_id)
            if len(members) - (replaced is not None) >= capacity:
                raise RoomFull(room)
            if limit.per_person and self._held_by(peer, room, limit.sibling) >= limit.per_person:
                raise TooManyConnections(room)
            others = [other for other in members.values() if other.peer_id != peer.peer_id]
            members[peer.peer_id] = peer
            return others, replaced

    def _held_by(self, peer: Peer, *rooms: str) -> int:
        """Entries of `peer.person` in `rooms`, not counting `peer.peer_id` (a resume replaces it)."""
        return sum(
            1
            for room in rooms
            for other in self._rooms.get(room, {}).values()
            if other.person == peer.person and other.peer_id != peer.peer_id
        )

    async def find_recent(self, room: str, peer_id: str) -> Peer | None:
        found = await self.find(room, peer_id)
        if found is not None:
            return found
        with self._lock:
            self._forget_departed()
            entry = self._departed.get((room, peer_id))
        return entry[1] if entry is not None else None

    def _forget_departed(self) -> None:
        now = time.monotonic()
        while self._departed and next(iter(self._departed.values()))[0] <= now:
            self._departed.popitem(last=False)

    async def bar(self, room: str, person: str, seconds: float) -> None:
        with self._lock:
            now = time.monotonic()
            self._barred = {key: until for key, until in self._barred.items() if until > now}
            self._barred[(room, person)] = now + seconds

    async def leave(self, room: str, peer_id: str, only: Peer | None = None, resumable: bool = False) -> bool:
        with self._lock:
            members = self._rooms.get(room)
            if members is None:
                return True
            if only is not None and members.get(peer_id, only) != only:
                return False
            gone = members.pop(peer_id, None)
            if gone is not None:
                self._forget_departed()
                until = time.monotonic() + departed_seconds()
                self._departed[(room, peer_id)] = (until, gone)
                if resumable and not room.startswith(WAITING_PREFIX):
                    self._leaving[(room, peer_id)] = (until, gone, 0.0)
            if not members:
                del self._rooms[room]
            return True

    async def take_back(self, room: str, peer_id: str) -> Departure | None:
        with self._lock:
            kept = self._leaving.pop((room, peer_id), None)
        if kept is None:
            return None
        return Departure(room, kept[1], overdue=kept[0] <= time.monotonic())

    async def lapsed_departures(self) -> list[Departure]:
        with self._lock:
            now = time.monotonic()
            lapsed = []
            for (room, peer_id), (until, peer, claimed) in list(self._leaving.items()):
                if until > now or claimed > now:
                    continue
                self._leaving[(room, peer_id)] = (until, peer, now + SETTLE_CLAIM_SECONDS)
                others = len(self._rooms.get(room, ())) + self._departing(room) - 1
                lapsed.append(Departure(room, peer, overdue=True, others=others))
            return lapsed

    async def settled(self, departure: Departure) -> None:
        with self._lock:
            self._leaving.pop((departure.room, departure.peer.peer_id), None)

    async def departing(self, room: str) -> int:
        with self._lock:
            return self._departing(room)

    def _departing(self, room: str) -> int:
        return sum(1 for key in self._leaving if key[0] == room)

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
