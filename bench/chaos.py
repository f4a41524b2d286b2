"""Chaos and soak: hundreds of simulated participants, two web processes, faults at random moments.

    python -m bench.chaos --short            # the CI run (about 2 minutes), small numbers
    python -m bench.chaos --minutes 30       # the long run: 300 participants, 30 minutes of faults
    python -m bench.chaos --clients 50 --minutes 0.5 --seed 7

Everything runs on 127.0.0.1: its own redis-server (restarted as a fault), its own PostgreSQL
database (its connections terminated as a fault; the server itself is shared and left alone), two
daphne processes (`scripts/web.sh`, killed with -9 or SIGTERM and restarted) and a media worker
(`manage.py mediaworker`, killed and restarted). Participants speak the signaling protocol
(bench/chaos_clients.py); the invariants are in bench/chaos_checks.py. It prints the figures,
then one JSON line, and exits 1 if any invariant failed. See docs/reliability.md.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.chaos_checks import Presence, final_report
from bench.chaos_clients import Ledger, Participant, World
from bench.chaos_cluster import GAP_GRACE_SECONDS, RESUME_SECONDS, SWEEP_GRACE_SECONDS, Cluster, RoomSpec, work_dir
from bench.procs import machine_busy_pct, terminate_as_interrupt

FAULT_KINDS = ("kill9_web", "sigterm_web", "redis_restart", "postgres_terminate", "worker_kill", "slow", "vanish")
ROOM_SIZE = 8


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true", help="the CI run: 120 participants, 48 s of faults")
    parser.add_argument("--minutes", type=float, default=10, help="minutes of churn and faults (default 10)")
    parser.add_argument("--clients", type=int, default=300, help="simulated participants (default 300)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; printed)")
    parser.add_argument("--fault-every", type=float, nargs=2, default=(5.0, 15.0), metavar=("MIN", "MAX"))
    parser.add_argument("--memory-limit", type=float, default=2048, help="KiB/min of RSS growth that fails the run")
    parser.add_argument("--keep-logs", type=Path, help="copy the server logs into this directory")
    args = parser.parse_args(argv)
    if args.short:
        args.minutes, args.clients, args.fault_every = 0.8, 120, (2.5, 5.0)
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    if not 10 <= args.clients <= 2000:
        parser.error("--clients takes 10 to 2000")
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be within a day")
    return args


def plan_rooms(clients: int) -> list[RoomSpec]:
    """Mesh rooms for about three quarters full, one knock room and one relay room."""
    mesh = max(2, round(clients / (ROOM_SIZE * 0.75)))
    return [
        RoomSpec("knock0", 10, knock=True),
        RoomSpec("relay0", 4, relay=True),
        *(RoomSpec(f"room{k}", ROOM_SIZE) for k in range(mesh)),
    ]


def homes(rooms: list[RoomSpec], clients: int) -> list[RoomSpec]:
    """Participant 0 moderates the knock room; the rest fill the rooms below capacity."""
    knock, relay, mesh = rooms[0], rooms[1], rooms[2:]
    out = [knock] * 7 + [relay] * 2
    out += [mesh[k % len(mesh)] for k in range(clients - len(out))]
    return out[:clients]


class Run:
    def __init__(self, args: argparse.Namespace, cluster: Cluster, rng: random.Random) -> None:
        self.args = args
        self.cluster = cluster
        self.rng = rng
        self.ledger = Ledger()
        self.world = World(cluster.ports, cluster.rooms, self.ledger)
        self.presence = Presence(self.ledger, {room.slug: room.capacity for room in cluster.rooms})
        self.people = [
            Participant(i, cluster.cookies[i], home, self.world, random.Random(rng.random()))  # noqa: S311 - a seeded simulation
            for i, home in enumerate(homes(cluster.rooms, args.clients))
        ]
        self.web_fault = asyncio.Lock()
        self.load: list[float] = []
        self.started = time.monotonic()

    async def main(self) -> dict[str, Any]:
        assert self.cluster.redis is not None
        client = aioredis.Redis.from_url(self.cluster.redis.url, socket_timeout=2, socket_connect_timeout=2)
        lives = [asyncio.create_task(person.live()) for person in self.people]
        watchers = [
            asyncio.create_task(self.every(1.0, lambda: self.presence.check(client))),
            asyncio.create_task(self.every(5.0, self.sample_memory)),
        ]
        await self.chaos()
        recovery = await self.calm()
        self.world.phase = "done"
        await asyncio.wait(lives, timeout=30)
        for task in watchers:
            task.cancel()
        await client.aclose()
        return recovery

    async def every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await job()
            await asyncio.sleep(seconds)

    async def sample_memory(self) -> None:
        self.cluster.sample_memory()
        self.load.append(round(os.getloadavg()[0], 1))  # the machine is shared: say how busy it was

    async def chaos(self) -> None:
        """Churn with a fault every few seconds, each kind in turn in a shuffled order."""
        end = self.started + self.args.minutes * 60
        kinds: list[str] = []
        injecting: list[asyncio.Task[None]] = []
        low, high = self.args.fault_every
        await asyncio.sleep(min(high, max(0.0, end - time.monotonic())))
        while time.monotonic() < end:
            if not kinds:
                kinds = self.rng.sample(FAULT_KINDS, len(FAULT_KINDS))
            kind = kinds.pop()
            print(f"  {time.monotonic() - self.started:6.1f} s  fault: {kind}", flush=True)
            # Concurrently: a web restart takes seconds, and other faults may strike meanwhile.
            injecting.append(asyncio.create_task(self.inject(kind)))
            await asyncio.sleep(min(self.rng.uniform(low, high), max(0.0, end - time.monotonic())))
        await asyncio.gather(*injecting)

    async def inject(self, kind: str) -> None:
        faults = self.ledger.faults
        if kind in ("kill9_web", "sigterm_web"):
            sig = signal.SIGKILL if kind == "kill9_web" else signal.SIGTERM
            # Always web-b: one process down at a time, and web-a lives through the whole run,
            # so its memory can be followed across every reconnection storm.
            async with self.web_fault:
                await asyncio.to_thread(self.cluster.kill_web, 1, sig)
        elif kind == "redis_restart":
            await asyncio.to_thread(self.cluster.restart_redis)
        elif kind == "postgres_terminate":
            faults["postgres_connections_terminated"] += await asyncio.to_thread(
                self.cluster.terminate_database_connections
            )
        elif kind == "worker_kill":
            await asyncio.to_thread(self.cluster.kill_worker)
        else:
            present = [person for person in self.people if person.in_room and not person.moderator]
            for person in self.rng.sample(present, min(len(present), self.rng.randint(1, 4))):
                person.fault = kind
            return  # counted by the participant when it acts on it
        faults[kind] += 1

    async def calm(self) -> dict[str, Any]:
        """Faults and churn stop: everyone must be back in a room within the resume window."""
        self.world.phase = "calm"
        self.world.calm_since = time.monotonic()
        print(f"  {time.monotonic() - self.started:6.1f} s  faults stop; waiting for everyone to be back", flush=True)
        deadline = self.world.calm_since + RESUME_SECONDS
        while time.monotonic() < deadline and not all(person.in_room for person in self.people):
            await asyncio.sleep(0.5)
        out = [person.index for person in self.people if not person.in_room]
        all_back = time.monotonic() - self.world.calm_since
        if out:
            self.ledger.violate(f"recovery: {len(out)} participants not back within {RESUME_SECONDS:.0f} s: {out[:10]}")
        # Every ghost and gap must close within its bound once the faults stop.
        await self.settle(SWEEP_GRACE_SECONDS + 2)
        lasting = self.presence.lasting()
        if lasting.get("missing", 0) > 0:  # a gap may take longer (GAP_GRACE_SECONDS)
            await self.settle(max(0.0, GAP_GRACE_SECONDS - lasting["missing"]) + 1)
        settled = time.monotonic() - self.world.calm_since
        lasting = self.presence.lasting()
        if lasting:
            self.ledger.violate(f"presence: still different from the open sockets at the end: {lasting}")
        return {"all_back_s": round(all_back, 1), "not_back": len(out), "presence_settled_s": round(settled, 1)}

    async def settle(self, bound: float, clean_samples: int = 3) -> None:
        """Wait until presence equals the open sockets in `clean_samples` checks in a row, or
        `bound` seconds (the sweep: a ghost still listed then is a violation, see calm())."""
        deadline = time.monotonic() + bound
        seen, clean = self.presence.samples, 0
        while time.monotonic() < deadline and clean < clean_samples:
            await asyncio.sleep(0.25)
            if self.presence.samples > seen:  # a new check was read (an unreadable one is not counted)
                seen = self.presence.samples
                clean = 0 if self.presence.first_seen else clean + 1


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def summarize(run: Run, recovery: dict[str, Any], verdicts: dict[str, Any], busy: float, elapsed: float) -> dict:
    ledger = run.ledger
    return {
        "seed": run.args.seed,
        "clients": run.args.clients,
        "rooms": len(run.cluster.rooms),
        "chaos_minutes": run.args.minutes,
        "elapsed_s": round(elapsed, 1),
        "machine_busy_pct_before": busy,
        "load_average_1min": {
            "min": min(run.load, default=None),
            "mean": round(sum(run.load) / len(run.load), 1) if run.load else None,
            "max": max(run.load, default=None),
            "cpus": os.cpu_count(),
        },
        "counts": dict(sorted(ledger.counts.items())),
        "faults": dict(sorted(ledger.faults.items())),
        "refusals": dict(sorted(ledger.refusals.items())),
        "errors": dict(sorted(ledger.errors.items())),
        "closes": dict(sorted(ledger.closes.items())),
        "recovery_s": {
            "p50": percentile(ledger.recoveries, 0.5),
            "p95": percentile(ledger.recoveries, 0.95),
            "max": percentile(ledger.recoveries, 1.0),
            "count": len(ledger.recoveries),
            "web_restart_p50": percentile(run.cluster.restarts, 0.5),
            **recovery,
        },
        "presence": {
            "samples": run.presence.samples,
            "unreadable": run.presence.unreadable,
            "longest_ghost_s": round(run.presence.longest_ghost, 1),
            "longest_missing_s": round(run.presence.longest_missing, 1),
            "ghost_grace_s": SWEEP_GRACE_SECONDS,
            "gap_grace_s": GAP_GRACE_SECONDS,
        },
        **verdicts,
        "violations": sample_violations(ledger.violations),
        "violation_count": len(ledger.violations),
    }


def sample_violations(texts: list[str], per_kind: int = 5, most: int = 100) -> list[str]:
    """The first few violations of each kind (the text without its numbers and names), so that a
    rare kind is shown, not hidden behind hundreds of a common one."""
    kept: list[str] = []
    seen: Counter[str] = Counter()
    for text in texts:
        kind = " ".join(word for word in text.split() if word.rstrip(":").isalpha() and word.islower())
        if seen[kind] < per_kind and len(kept) < most:
            kept.append(text)
        seen[kind] += 1
    return kept


def show(result: dict[str, Any]) -> None:
    print()
    print(f"seed {result['seed']}: {result['clients']} participants in {result['rooms']} rooms, ", end="")
    print(f"{result['chaos_minutes']:g} min of faults, {result['elapsed_s']} s in all")
    load = result["load_average_1min"]
    print(f"machine {result['machine_busy_pct_before']}% busy before the run; ", end="")
    print(f"load average {load['min']}-{load['max']} (mean {load['mean']}) on {load['cpus']} CPUs during it")
    for key in ("counts", "faults", "refusals", "errors", "closes", "recovery_s", "presence", "chat", "memory"):
        print(f"{key}: " + ", ".join(f"{k}={v}" for k, v in result[key].items()))
    print("invariants:")
    for name, held in result["invariants"].items():
        print(f"  {'ok  ' if held else 'FAIL'} {name}")
    for violation in result["violations"]:
        print(f"  violation: {violation}")
    verdict = "all held" if all(result["invariants"].values()) else "FAILED"
    print(f"invariants: {verdict}")
    print(json.dumps({key: value for key, value in result.items() if key != "logs"}))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    rng = random.Random(args.seed)  # noqa: S311 - seeded, so a run can be repeated
    print(f"bench.chaos seed {args.seed}: {args.clients} participants, {args.minutes:g} min of faults", flush=True)
    busy = round(machine_busy_pct(), 1)
    began = time.monotonic()
    rooms = plan_rooms(args.clients)
    cluster = Cluster(work_dir(), rooms, users=args.clients)
    try:
        with terminate_as_interrupt():
            print("starting redis, PostgreSQL database, two web processes, media worker ...", flush=True)
            cluster.start()
            print(f"  ready after {time.monotonic() - began:.0f} s; ports {cluster.ports}", flush=True)
            run = Run(args, cluster, rng)
            recovery = asyncio.run(run.main())
            verdicts = final_report(run.ledger, cluster, run.presence, args.memory_limit)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        if args.keep_logs:
            args.keep_logs.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            cluster.close(args.keep_logs)
    result = summarize(run, recovery, verdicts, busy, time.monotonic() - began)
    show(result)
    return 0 if all(result["invariants"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
