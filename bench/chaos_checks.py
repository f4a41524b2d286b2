"""The invariants `bench.chaos` holds the system to, checked while it runs and at the end.

Presence is read straight from the Redis keys `signaling/redis_presence.py` keeps (the members
hash and the lease set of each room); chat lines from the database; tracebacks from the logs.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from bench.chaos_clients import CHAT_PREFIX, Ledger
from bench.chaos_cluster import GAP_GRACE_SECONDS, SWEEP_GRACE_SECONDS, Cluster, MemorySample

ROOMS_KEY, MEMBERS, LEASES = "ax:presence-rooms", "ax:presence:", "ax:presence-exp:"
WARM_UP_SECONDS = 30.0


@dataclass
class Presence:
    """Presence against the sockets the participants hold open, sampled every second."""

    ledger: Ledger
    capacities: dict[str, int]
    first_seen: dict[tuple[str, ...], float] = field(default_factory=dict)
    reported: set[tuple[str, ...]] = field(default_factory=set)
    samples: int = 0
    unreadable: int = 0
    longest_ghost: float = 0.0
    longest_missing: float = 0.0
    peak: dict[str, int] = field(default_factory=dict)

    async def read(self, client: aioredis.Redis) -> dict[str, dict[str, int | None]]:
        """Live members of every room: peer_id -> user_id."""
        now_ms = int(time.time() * 1000)
        rooms: dict[str, dict[str, int | None]] = {}
        raw_slugs: set[Any] = await client.smembers(ROOMS_KEY)  # type: ignore[misc]
        for raw in raw_slugs:
            slug = raw.decode()
            if slug.startswith("waiting."):
                continue
            live: list[Any] = await client.zrangebyscore(LEASES + slug, now_ms, "+inf")
            members: dict[Any, Any] = await client.hgetall(MEMBERS + slug)  # type: ignore[misc]
            rooms[slug] = {}
            for peer in live:
                data = members.get(peer)
                rooms[slug][peer.decode()] = json.loads(data)[2] if data else None
        return rooms

    async def check(self, client: aioredis.Redis) -> None:
        try:
            rooms = await self.read(client)
        except (redis.exceptions.RedisError, OSError):
            self.unreadable += 1
            return
        self.samples += 1
        now = time.monotonic()
        seen: set[tuple[str, ...]] = set()
        for slug, members in rooms.items():
            self.peak[slug] = max(self.peak.get(slug, 0), len(members))
            if len(members) > self.capacities.get(slug, 10**6):
                self.ledger.violate(f"room {slug} holds {len(members)} > capacity {self.capacities[slug]}")
            for peer_id in members:
                if (slug, peer_id) not in self.ledger.open:
                    seen.add(("ghost", slug, peer_id))
        for slug, peer_id in list(self.ledger.open):
            if peer_id not in rooms.get(slug, {}):
                seen.add(("missing", slug, peer_id))
        users: dict[int | None, list[str]] = {}
        for slug, members in rooms.items():
            for user_id in members.values():
                users.setdefault(user_id, []).append(slug)
        for user_id, slugs in users.items():
            if user_id is not None and len(slugs) > 1:
                seen.add(("two rooms", str(user_id), ",".join(sorted(slugs))))
        self._age(seen, now)

    def _age(self, seen: set[tuple[str, ...]], now: float) -> None:
        for key in list(self.first_seen):
            if key not in seen:
                lasted = now - self.first_seen.pop(key)
                if key[0] == "ghost":
                    self.longest_ghost = max(self.longest_ghost, lasted)
                elif key[0] == "missing":
                    self.longest_missing = max(self.longest_missing, lasted)
        for key in seen:
            began = self.first_seen.setdefault(key, now)
            grace = GAP_GRACE_SECONDS if key[0] == "missing" else SWEEP_GRACE_SECONDS
            if now - began > grace and key not in self.reported:
                self.reported.add(key)
                self.ledger.violate(f"presence: {' '.join(key)} for over {grace:.0f} s")

    def lasting(self) -> dict[str, float]:
        """Discrepancies still open, by kind: how long the oldest has lasted."""
        now = time.monotonic()
        out: dict[str, float] = {}
        for key, began in self.first_seen.items():
            out[key[0]] = max(out.get(key[0], 0.0), round(now - began, 1))
        return out


def check_chat(ledger: Ledger, stored: dict[str, int]) -> dict[str, Any]:
    """Every acknowledged line stored once and received by every socket present when it was sent."""
    acked = [line for line in ledger.lines.values() if line.acked_at is not None]
    misstored = [token for token in (line.token for line in acked) if stored.get(token, 0) != 1]
    doubled = [token for token, count in stored.items() if count > 1]
    expected = missed = 0
    by_room: dict[str, list[Any]] = {}
    for stint in ledger.stints:
        by_room.setdefault(stint.room, []).append(stint)
    for line in acked:
        assert line.acked_at is not None
        for stint in by_room.get(line.room, []):
            if stint is line.stint or stint.welcomed_at >= line.sent_at:
                continue
            # Its own later line came back: every line acknowledged before that was in Redis first,
            # in the same per-process queue, so it must have arrived before (whatever the load).
            if max(stint.own_acked, default=0.0) <= line.acked_at:
                continue
            expected += 1
            if line.token not in stint.received:
                missed += 1
                if missed <= 5:
                    ledger.violate(
                        f"chat: {line.token} not received by client {stint.client} in {line.room}"
                        f" (sent at {line.sent_at - ledger.began:.1f} s through port {line.stint.port},"
                        f" acked {line.acked_at - line.sent_at:.1f} s later; the receiver on port {stint.port}"
                        f" from {stint.welcomed_at - ledger.began:.1f} s"
                        f" to {(stint.ended_at or 0) - ledger.began:.1f} s)"
                    )
    for token in misstored[:5]:
        ledger.violate(f"chat: acknowledged line {token} stored {stored.get(token, 0)} times")
    for token in doubled[:5]:
        ledger.violate(f"chat: line {token} stored {stored[token]} times")
    return {
        "sent": len(ledger.lines),
        "acknowledged": len(acked),
        "stored": sum(stored.values()),
        "acknowledged_not_stored_once": len(misstored),
        "stored_twice": len(doubled),
        "deliveries_checked": expected,
        "deliveries_missed": missed,
    }


def _slope(points: list[MemorySample]) -> tuple[float, float]:
    """Least-squares sums (sxx, sxy) of RSS against time."""
    mean_t = sum(p.at for p in points) / len(points)
    mean_r = sum(p.rss_kib for p in points) / len(points)
    sxx = sum((p.at - mean_t) ** 2 for p in points)
    sxy = sum((p.at - mean_t) * (p.rss_kib - mean_r) for p in points)
    return sxx, sxy


def memory_slope(samples: list[MemorySample]) -> dict[str, Any]:
    """RSS growth of the web processes in KiB per minute, leaving out the warm-up of each process
    lifetime (imports, pools and caches filling up: its first quarter, and at least 30 s).

    `slope_kib_per_min` is web-a's, which is never killed and lives through the whole run;
    `pooled_kib_per_min` pools every lifetime of both processes (a restart starts a new one)."""
    groups: dict[tuple[str, int], list[MemorySample]] = {}
    for sample in samples:
        groups.setdefault((sample.server, sample.incarnation), []).append(sample)
    pooled_xx = pooled_xy = 0.0
    long_lived: list[MemorySample] = []
    for (server, _), group in groups.items():
        skip = max(WARM_UP_SECONDS, (group[-1].at - group[0].at) / 4)
        points = [p for p in group if p.at >= group[0].at + skip]
        if len(points) < 2:
            continue
        sxx, sxy = _slope(points)
        pooled_xx, pooled_xy = pooled_xx + sxx, pooled_xy + sxy
        if server == "web-a" and len(points) > len(long_lived):
            long_lived = points
    sxx, sxy = _slope(long_lived) if len(long_lived) >= 2 else (0.0, 0.0)
    rss = [sample.rss_kib for sample in samples]
    return {
        "slope_kib_per_min": round(sxy / sxx * 60, 1) if sxx else 0.0,
        "samples_used": len(long_lived),
        "minutes_followed": round((long_lived[-1].at - long_lived[0].at) / 60, 1) if long_lived else 0.0,
        "pooled_kib_per_min": round(pooled_xy / pooled_xx * 60, 1) if pooled_xx else 0.0,
        "lifetimes": len(groups),
        "web_a_rss_mib_first_last": [round(long_lived[0].rss_kib / 1024, 1), round(long_lived[-1].rss_kib / 1024, 1)]
        if long_lived
        else None,
        "rss_mib_max": round(max(rss) / 1024, 1) if rss else None,
    }


def final_report(ledger: Ledger, cluster: Cluster, presence: Presence, memory_limit: float) -> dict[str, Any]:
    """Every invariant, its verdict and figures; `ok` is False if any failed."""
    chat = check_chat(ledger, cluster.stored_chat(CHAT_PREFIX))
    logs = cluster.scan_logs()
    tracebacks = {name: scan for name, scan in logs.items() if scan["tracebacks"]}
    for name, scan in tracebacks.items():
        ledger.violate(f"log {name}: {scan['tracebacks']} tracebacks: {scan['samples']}")
    memory = memory_slope(cluster.memory)
    # A slope over less than two minutes is mostly warm-up noise: reported, not judged.
    memory["judged"] = memory["minutes_followed"] >= 2
    memory_ok = not memory["judged"] or memory["slope_kib_per_min"] <= memory_limit
    if not memory_ok:
        ledger.violate(f"memory grows {memory['slope_kib_per_min']} KiB/min (limit {memory_limit})")
    texts = ledger.violations
    invariants = {
        "presence equals open sockets (within the sweep)": not any(v.startswith("presence: ") for v in texts),
        "nobody in two rooms": not any("two rooms" in v for v in texts),
        "capacity never exceeded": not any("capacity" in v for v in texts),
        "acknowledged chat stored once and delivered": not any(v.startswith("chat:") for v in texts),
        "every refusal and error has a code and a sentence": not any("code and a sentence" in v for v in texts),
        "every connection answered (welcome, waiting or a refusal)": not any(
            "nothing from the server" in v or "first message" in v for v in texts
        ),
        "no crashed connection (1011)": not any("1011" in v for v in texts),
        "resume tokens honoured": not any("resume token" in v for v in texts),
        "everyone back in a room after the faults": not any(v.startswith("recovery:") for v in texts),
        "no traceback in any server log": not tracebacks,
        "memory does not grow": memory_ok,
    }
    return {"invariants": invariants, "chat": chat, "logs": logs, "memory": memory}
