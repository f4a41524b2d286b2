"""Presence shared by every server process, in Redis, with heartbeated expiry.

Per room, a hash `ax:presence:<slug>` maps peer_id to the peer's JSON, and a
sorted set `ax:presence-exp:<slug>` maps peer_id to the time (ms) its lease ends.
Each process renews the leases of the peers it serves every
`PRESENCE_HEARTBEAT_SECONDS`; a process killed with -9 stops renewing, its
peers' leases lapse after `PRESENCE_TTL_SECONDS`, and the next sweep by any
surviving process removes them and announces them as gone. Admission runs in
one Lua script, so capacity holds across processes.
"""

import asyncio
import json
import time
from collections.abc import Iterable
from typing import Any

import redis
import redis.asyncio as aioredis

from signaling.presence import (
    NO_LIMIT,
    SETTLE_CLAIM_SECONDS,
    WAITING_PREFIX,
    Barred,
    Departure,
    Peer,
    PersonLimit,
    RoomFull,
    TooManyConnections,
    departed_seconds,
)

_ROOMS = "ax:presence-rooms"

# KEYS: members hash, lease zset, rooms set, the sibling's members hash and lease zset (the
# room's waiting list, or the room for a waiting list), the person's bar markers (this key's
# and the sibling's).
# ARGV: peer_id, peer json, capacity, now ms, lease end ms, slug, person, per-person limit (0: none).
# Returns {0, others' json, replaced json or ''} when admitted, {1} when full, {2} when the
# person already holds the limit of live entries in the room and its sibling, {3} when barred.
# Lapsed leases do not count; the sweep removes and announces them. An entry already under
# peer_id (a resuming peer's old connection) is replaced, with its lease, and takes no place:
# the sweep can no longer announce it, and new ids (random) never have one.
_ADMIT = """
if redis.call('EXISTS', KEYS[6], KEYS[7]) > 0 then return {3} end
local live = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[4], '+inf')
local count = #live
local mine = redis.call('ZSCORE', KEYS[2], ARGV[1])
if mine and tonumber(mine) >= tonumber(ARGV[4]) then count = count - 1 end
if count >= tonumber(ARGV[3]) then return {1} end
local others = {}
local held = 0
for _, id in ipairs(live) do
  if id ~= ARGV[1] then
    local data = redis.call('HGET', KEYS[1], id)
    if data then
      table.insert(others, data)
      if cjson.decode(data)[5] == ARGV[7] then held = held + 1 end
    end
  end
end
if tonumber(ARGV[8]) > 0 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], ARGV[4], '+inf')) do
    local data = redis.call('HGET', KEYS[4], id)
    if data and id ~= ARGV[1] and cjson.decode(data)[5] == ARGV[7] then held = held + 1 end
  end
  if held >= tonumber(ARGV[8]) then return {2} end
end
local replaced = redis.call('HGET', KEYS[1], ARGV[1]) or ''
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[6])
return {0, others, replaced}
"""

# KEYS: rooms set, the departures zset. ARGV: now ms, members-hash key prefix, lease-zset key
# prefix, departed-key prefix, seconds a departed entry is kept, departures-hash key prefix,
# the waiting lists' key prefix.
# Returns {slug, {expired peers' json}, slug, {...}, ...} for the rooms that had lapsed leases.
# One script for every room: a sweep used to cost one round trip per room, every heartbeat.
# Each lapsed peer of a room (not of a waiting list) may still resume: it becomes a departure.
_SWEEP_ALL = """
local result = {}
local due = tonumber(ARGV[1]) + 1000 * tonumber(ARGV[5])
for _, slug in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local members, leases = ARGV[2] .. slug, ARGV[3] .. slug
  local departing = string.sub(slug, 1, #ARGV[7]) ~= ARGV[7]
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', ARGV[1])
  if #expired > 0 then
    local gone = {}
    for _, id in ipairs(expired) do
      local data = redis.call('HGET', members, id)
      if data then
        table.insert(gone, data)
        redis.call('SET', ARGV[4] .. slug .. ':' .. id, data, 'EX', ARGV[5])
        if departing then
          redis.call('HSET', ARGV[6] .. slug, id, due .. ' ' .. data)
          redis.call('ZADD', KEYS[2], due, slug .. ' ' .. id)
        end
      end
      redis.call('HDEL', members, id)
    end
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', ARGV[1])
    table.insert(result, slug)
    table.insert(result, gone)
  end
  if redis.call('ZCARD', leases) == 0 then
    redis.call('DEL', members, leases)
    redis.call('SREM', KEYS[1], slug)
  end
end
return result
"""

# KEYS: members hash, lease zset, rooms set, the departed entry's key, the departures zset and
# the room's departures hash.
# ARGV: peer_id, slug, the leaving peer's json or '', seconds the departed entry is kept, and
# the ms its window ends if it may resume ('' if not).
# Returns 0, removing nothing, when the id now belongs to another connection (it resumed there).
_LEAVE = """
local data = redis.call('HGET', KEYS[1], ARGV[1])
if data and ARGV[3] ~= '' and data ~= ARGV[3] then return 0 end
if data then redis.call('SET', KEYS[4], data, 'EX', ARGV[4]) end
if data and ARGV[5] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[5] .. ' ' .. data)
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[2] .. ' ' .. ARGV[1])
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[2])
end
return 1
"""


# KEYS: the departures zset. ARGV: now ms, the claim's end ms, departures-hash key prefix,
# members-hash key prefix.
# Returns {slug, "<due ms> <peer json>", others, ...} for departures whose window closed and that
# nobody holds a claim on (their score is the window's end, then the claim's): each is claimed.
_CLAIM_LAPSED = """
local result = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)) do
  local space = string.find(member, ' ', 1, true)
  local slug, id = string.sub(member, 1, space - 1), string.sub(member, space + 1)
  local kept = redis.call('HGET', ARGV[3] .. slug, id)
  if kept then
    redis.call('ZADD', KEYS[1], ARGV[2], member)
    local others = redis.call('HLEN', ARGV[4] .. slug) + redis.call('HLEN', ARGV[3] .. slug) - 1
    table.insert(result, slug)
    table.insert(result, kept)
    table.insert(result, others)
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return result
"""

# KEYS: the departures zset, the room's departures hash. ARGV: "<slug> <peer_id>", peer_id.
# Returns the kept "<due ms> <peer json>", or false when there was none.
_TAKE_BACK = """
local kept = redis.call('HGET', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return kept
"""

_MEMBERS_PREFIX, _LEASES_PREFIX = "ax:presence:", "ax:presence-exp:"
_DEPARTED_PREFIX, _BARRED_PREFIX = "ax:departed:", "ax:barred:"
# Departures that may still resume: a zset over every room ("<slug> <peer_id>" scored by the ms
# its window ends, or a settling process's claim ends) and a hash per room (peer_id -> "<due ms>
# <peer json>"). Slugs hold no space.
_LEAVING, _LEAVING_PREFIX = "ax:leaving", "ax:leaving:"


def _keys(slug: str) -> list[str]:
    return [_MEMBERS_PREFIX + slug, _LEASES_PREFIX + slug, _ROOMS]


def _departed_key(slug: str, peer_id: str) -> str:
    return f"{_DEPARTED_PREFIX}{slug}:{peer_id}"


def _barred_key(slug: str, person: str) -> str:
    return f"{_BARRED_PREFIX}{slug}:{person}"


def _departure(slug: str, kept: bytes | str, others: int = 0) -> Departure:
    text = kept.decode() if isinstance(kept, bytes) else kept
    due, _, peer = text.partition(" ")
    return Departure(slug, _decode(peer), overdue=int(due) <= _now_ms(), others=int(others))


def _departed_ttl() -> int:
    return max(1, round(departed_seconds()))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _encode(peer: Peer) -> str:
    # The person is the 5th item: the admission script counts a person's entries by it.
    fields = [peer.peer_id, peer.name, peer.user_id, peer.channel_name, peer.person, peer.address, peer.invite_id]
    return json.dumps(fields)


def _decode(raw: bytes | str) -> Peer:
    return Peer(*json.loads(raw))


class RedisPresence:
    """Presence across processes. Peers served by this process are also kept
    locally, to renew their leases and to find same-process targets without Redis."""

    def __init__(self, url: str, ttl_seconds: float) -> None:
        self._url = url
        self._ttl_ms = int(ttl_seconds * 1000)
        self._clients: dict[str, tuple[asyncio.AbstractEventLoop, aioredis.Redis]] = {}
        self._sync = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.local: dict[str, dict[str, Peer]] = {}

    @property
    def client(self) -> aioredis.Redis:
        """For joins, leaves and lookups: a blocking pool, so a burst of joins waits for a free
        connection (up to 30 s) rather than failing (redis-py 8 raises MaxConnectionsError at once,
        which read as "Redis is down" and closed sockets with 1012)."""
        return self._client_for("peers", max_connections=200, wait=30, connect_timeout=2)

    @property
    def upkeep_client(self) -> aioredis.Redis:
        """For the heartbeat (renew, sweep): its own connections, so it never queues behind a join
        storm and an error here means Redis itself is unreachable."""
        return self._client_for("upkeep", max_connections=2, wait=5, connect_timeout=5)

    def _client_for(self, purpose: str, max_connections: int, wait: float, connect_timeout: float) -> aioredis.Redis:
        # An asyncio client belongs to the loop that made it: make one per serving loop.
        loop = asyncio.get_running_loop()
        made = self._clients.get(purpose)
        if made is None or made[0] is not loop:
            pool = aioredis.BlockingConnectionPool.from_url(
                self._url,
                max_connections=max_connections,
                timeout=wait,
                socket_timeout=5,
                socket_connect_timeout=connect_timeout,
            )
            made = self._clients[purpose] = (loop, aioredis.Redis(connection_pool=pool))
        return made[1]

    async def admit(self, room: str, peer: Peer, capacity: int, limit: PersonLimit = NO_LIMIT) -> list[Peer]:
        return (await self.resume(room, peer, capacity, limit))[0]

    async def resume(
        self, room: str, peer: Peer, capacity: int, limit: PersonLimit = NO_LIMIT
    ) -> tuple[list[Peer], Peer | None]:
        now = _now_ms()
        sibling = limit.sibling or room
        keys = [*_keys(room), *_keys(sibling)[:2], _barred_key(room, peer.person), _barred_key(sibling, peer.person)]
        args: list[str | int] = [peer.peer_id, _encode(peer), capacity, now, now + self._ttl_ms, room]
        args += [peer.person, limit.per_person]
        result: list[Any] = await self.client.eval(_ADMIT, len(keys), *keys, *args)  # type: ignore[misc]
        if result[0] != 0:
            raise {1: RoomFull, 2: TooManyConnections, 3: Barred}[result[0]](room)
        self.local.setdefault(room, {})[peer.peer_id] = peer
        return [_decode(raw) for raw in result[1]], _decode(result[2]) if result[2] else None

    async def leave(self, room: str, peer_id: str, only: Peer | None = None, resumable: bool = False) -> bool:
        members = self.local.get(room)
        if members is not None and (only is None or members.get(peer_id) == only):
            members.pop(peer_id, None)
            if not members:
                del self.local[room]
        mine = _encode(only) if only is not None else ""
        keys = [*_keys(room), _departed_key(room, peer_id), _LEAVING, _LEAVING_PREFIX + room]
        due = _now_ms() + int(departed_seconds() * 1000) if resumable and not room.startswith(WAITING_PREFIX) else ""
        removed = await self.client.eval(  # type: ignore[misc]
            _LEAVE, len(keys), *keys, peer_id, room, mine, _departed_ttl(), due
        )
        return bool(removed)

    async def take_back(self, room: str, peer_id: str) -> Departure | None:
        keys = [_LEAVING, _LEAVING_PREFIX + room]
        kept = await self.client.eval(_TAKE_BACK, len(keys), *keys, f"{room} {peer_id}", peer_id)  # type: ignore[misc]
        return _departure(room, kept) if kept else None

    async def lapsed_departures(self) -> list[Departure]:
        now = _now_ms()
        claim_ends = now + int(SETTLE_CLAIM_SECONDS * 1000)
        found: list[Any] = await self.upkeep_client.eval(  # type: ignore[misc]
            _CLAIM_LAPSED, 1, _LEAVING, now, claim_ends, _LEAVING_PREFIX, _MEMBERS_PREFIX
        )
        rooms = (slug.decode() if isinstance(slug, bytes) else slug for slug in found[::3])
        claimed = zip(rooms, found[1::3], found[2::3], strict=True)
        return [_departure(slug, kept, others) for slug, kept, others in claimed]

    async def settled(self, departure: Departure) -> None:
        peer_id = departure.peer.peer_id
        keys = [_LEAVING, _LEAVING_PREFIX + departure.room]
        await self.upkeep_client.eval(_TAKE_BACK, len(keys), *keys, f"{departure.room} {peer_id}", peer_id)  # type: ignore[misc]

    async def departing(self, room: str) -> int:
        return int(await self.client.hlen(_LEAVING_PREFIX + room))  # type: ignore[misc]

    async def find_recent(self, room: str, peer_id: str) -> Peer | None:
        found = await self.find(room, peer_id)
        if found is not None:
            return found
        raw = await self.client.get(_departed_key(room, peer_id))
        return _decode(raw) if raw is not None else None

    async def bar(self, room: str, person: str, seconds: float) -> None:
        await self.client.set(_barred_key(room, person), 1, px=max(1, int(seconds * 1000)))

    async def find(self, room: str, peer_id: str) -> Peer | None:
        members = self.local.get(room)
        if members is not None and peer_id in members:
            return members[peer_id]
        raw = await self.client.hget(_keys(room)[0], peer_id)  # type: ignore[misc]
        return _decode(raw) if raw is not None else None

    async def members(self, room: str) -> list[Peer]:
        values = await self.client.hvals(_keys(room)[0])  # type: ignore[misc]
        return [_decode(raw) for raw in values]

    def counts(self, rooms: Iterable[str]) -> dict[str, int]:
        slugs = list(rooms)
        now = _now_ms()
        pipe = self._sync.pipeline(transaction=False)
        for slug in slugs:
            pipe.zcount(_keys(slug)[1], now, "+inf")
        return {slug: int(count) for slug, count in zip(slugs, pipe.execute(), strict=True)}

    def local_stats(self) -> tuple[int, int]:
        return len(self.local), sum(len(members) for members in self.local.values())

    async def renew(self) -> None:
        """Extend the leases of every peer this process serves."""
        if not self.local:
            return
        lease_end = _now_ms() + self._ttl_ms
        pipe = self.upkeep_client.pipeline(transaction=False)
        for room, members in list(self.local.items()):
            pipe.zadd(_keys(room)[1], dict.fromkeys(members, lease_end), xx=True)
        await pipe.execute()

    async def sweep(self) -> dict[str, list[Peer]]:
        """Remove peers whose lease lapsed (their process died); return them by room."""
        keys = [_ROOMS, _LEAVING]
        args: list[str | int] = [_now_ms(), _MEMBERS_PREFIX, _LEASES_PREFIX, _DEPARTED_PREFIX, _departed_ttl()]
        found: list[Any] = await self.upkeep_client.eval(  # type: ignore[misc]
            _SWEEP_ALL, len(keys), *keys, *args, _LEAVING_PREFIX, WAITING_PREFIX
        )
        gone: dict[str, list[Peer]] = {}
        for raw_slug, expired in zip(found[::2], found[1::2], strict=True):
            slug = raw_slug.decode() if isinstance(raw_slug, bytes) else raw_slug
            gone[slug] = [_decode(raw) for raw in expired]
        return gone

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for _, client in clients.values():
            await client.aclose()
