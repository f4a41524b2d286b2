"""The servers under test: our app (daphne or uvicorn, embedded or over Redis) and the seed.

A `Bench` holds what every phase needs (temp dir, fixtures, the process group);
`serve(bench, mode)` starts a fresh server for one phase and stops it afterwards.
"""

import contextlib
import filecmp
import importlib.util
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import BenchError, ProcessGroup, descendants, scan_log, wait_for_port
from tests.live_server import free_port

PROJECT = Path(__file__).resolve().parent.parent


def _seed_peer() -> Path:
    """`shared/peers/seed-node-signaling` beside the checkout (or beside a parent of a worktree)."""
    for parent in PROJECT.parents:
        candidate = parent / "shared" / "peers" / "seed-node-signaling"
        if candidate.is_dir():
            return candidate
    return PROJECT.parent / "shared" / "peers" / "seed-node-signaling"


SEED_PEER = _seed_peer()
SEED_FILES = ("server.js", "loadgen.js", "package.json", "lib/auth.js", "lib/metrics.js", "lib/room-manager.js")
ALLOWED_HOSTS = "127.0.0.1,localhost"
WEB_SCRIPT = str(PROJECT / "scripts" / "web.sh")


@dataclass(frozen=True)
class Mode:
    """One way of running a signaling server."""

    name: str
    kind: str  # "app" (our protocol) or "seed" (Socket.IO)
    server: str  # daphne, uvicorn, granian or node
    processes: int = 1
    shared: bool = False  # REDIS_URL set, database shared by the processes

    @property
    def label(self) -> str:
        if self.kind == "seed":
            return "seed (node)"
        return f"{self.name} ({self.processes}x {self.server})"


MODES = {
    "embedded": Mode("embedded", "app", "daphne"),
    "redis": Mode("redis", "app", "daphne", processes=2, shared=True),
    "uvicorn": Mode("uvicorn", "app", "uvicorn"),
    "granian": Mode("granian", "app", "granian"),
    "seed": Mode("seed", "seed", "node"),
}


@dataclass
class Bench:
    """Everything the phases share for one run."""

    work: Path
    seed_dir: Path
    procs: ProcessGroup
    redis_url: str
    sqlite_url: str = ""
    postgres_url: str = ""
    sessions: dict[str, Path] = field(default_factory=dict)  # database url -> session keys file
    migrated: dict[str, str] = field(default_factory=dict)  # database url -> migrations_fingerprint()
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    notes: list[str] = field(default_factory=list)
    runs: int = 0
    deadline: float = math.inf  # time.monotonic() by which the whole run should be over
    phase_cap: float = math.inf  # seconds the current phase may take
    profile_dir: Path | None = None  # py-spy records every app server process here (--profile)

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def database_for(self, mode: Mode) -> str:
        return self.postgres_url if mode.shared and self.postgres_url else self.sqlite_url

    def node_env(self) -> dict[str, str]:
        return {**os.environ, "NODE_PATH": str(self.seed_dir / "node_modules")}

    def next_name(self, what: str) -> str:
        self.runs += 1
        return f"{self.runs:02d}-{what}"


@dataclass
class Target:
    """A running server (one or more processes) for one phase."""

    mode: Mode
    ports: list[int]
    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]
    sessions_file: Path | None
    profilers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # py-spy (--profile)

    @property
    def pids(self) -> list[int]:
        """The server processes and their children (granian serves from a worker process)."""
        return [pid for proc in self.procs for pid in (proc.pid, *descendants(proc.pid))]

    @property
    def urls(self) -> list[str]:
        scheme = "http" if self.mode.kind == "seed" else "ws"
        return [f"{scheme}://127.0.0.1:{port}" for port in self.ports]

    def origin(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"


def server_available(server: str) -> bool:
    """daphne is a requirement; uvicorn and granian are compared only where installed."""
    return importlib.util.find_spec(server) is not None


def prepare_seed(cache: Path, procs: ProcessGroup, timeout: float = 600) -> Path:
    """Copy the seed peer into `cache` (refreshed if it changed) and `npm install` it once."""
    if not SEED_PEER.is_dir():
        raise BenchError(f"seed peer not found at {SEED_PEER}")
    changed = [
        name for name in SEED_FILES if not (cache / name).exists() or not filecmp.cmp(SEED_PEER / name, cache / name)
    ]
    if changed:
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copytree(SEED_PEER, cache, dirs_exist_ok=True)
        if "package.json" in changed:
            shutil.rmtree(cache / "node_modules", ignore_errors=True)
    if not (cache / "node_modules" / "socket.io-client").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise BenchError("npm is needed to install the seed's dependencies")
        print(f"installing the seed's dependencies in {cache} ...", flush=True)
        proc = procs.start("npm-install", [npm, "install", "--no-audit", "--no-fund"], env=os.environ, cwd=cache)
        if proc.wait(timeout=timeout) != 0:
            raise BenchError(f"npm install failed in {cache}; see {procs.log_dir / 'npm-install.log'}")
        procs.running.remove(proc)
    return cache


def app_env(bench: Bench, mode: Mode, database_url: str) -> dict[str, str]:
    """Production-like settings (DEBUG off) against the benchmark's own database."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DEBUG="0",
        SECRET_KEY=bench.secret_key,
        ALLOWED_HOSTS=ALLOWED_HOSTS,
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        STATIC_ROOT=str(bench.work / "static"),
        MEDIA_ROOT=str(bench.work / "media"),
        DJANGO_SETTINGS_MODULE="audioexchange.settings",
        PYTHONUNBUFFERED="1",
    )
    if mode.shared:
        env["REDIS_URL"] = bench.redis_url
    return env


def server_argv(mode: Mode, port: int) -> list[str]:
    if mode.server == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", "audioexchange.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port), "--ws-max-size", "131072", "--lifespan", "off"),
        ]
    if mode.server == "granian":
        # No option caps a WebSocket message's size in granian 2.8 (a reason not to adopt it).
        return [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)),
            *("--backlog", "4096", "--backpressure", "16384", "--no-log"),
            "audioexchange.asgi:application",
        ]
    # The production command line (the Procfile's), on this port.
    return ["env", f"DAPHNE={Path(sys.executable).with_name('daphne')}", "HOST=127.0.0.1", f"PORT={port}", WEB_SCRIPT]


def migrations_fingerprint() -> str:
    """Names and mtimes of every migration: the tree may change under a long run (others work in it)."""
    files = sorted(PROJECT.glob("*/migrations/*.py"))
    return "|".join(f"{path.relative_to(PROJECT)}:{path.stat().st_mtime_ns}" for path in files)


def migrate_if_changed(bench: Bench, mode: Mode, database: str) -> None:
    """Apply migrations added since the fixtures were made, so a new app's tables exist."""
    fingerprint = migrations_fingerprint()
    if bench.migrated.get(database) == fingerprint:
        return
    name = bench.next_name("migrate")
    argv = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    proc = bench.procs.start(name, argv, env=app_env(bench, mode, database), cwd=PROJECT)
    try:
        code = proc.wait(timeout=300)
    finally:
        bench.procs.stop(proc)
    if code != 0:
        raise BenchError(f"migrate failed ({code}); see {bench.procs.log_dir / (name + '.log')}")
    bench.migrated[database] = fingerprint


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


@contextlib.contextmanager
def serve(bench: Bench, mode: Mode, phase: str) -> Iterator[Target]:
    """Start a fresh server for `mode`, wait until it listens, stop it (and keep its log) afterwards."""
    if mode.shared:
        flush_redis(bench.redis_url)
    ports, procs, logs = [], [], []
    target: Target | None = None
    database = bench.database_for(mode)
    if mode.kind == "app":
        migrate_if_changed(bench, mode, database)
    try:
        for index in range(mode.processes):
            port = free_port()
            name = bench.next_name(f"{mode.name}-{phase}-{index}")
            if mode.kind == "seed":
                env = {**os.environ, "QUIET": "1", "PORT": str(port)}
                proc = bench.procs.start(name, ["node", "server.js"], env=env, cwd=bench.seed_dir)
            else:
                proc = bench.procs.start(name, server_argv(mode, port), env=app_env(bench, mode, database), cwd=PROJECT)
            ports.append(port)
            procs.append(proc)
            logs.append(bench.procs.log_dir / f"{name}.log")
            wait_for_port(port, proc, timeout=60, name=f"{mode.label} server")
        sessions = bench.sessions.get(database) if mode.kind == "app" else None
        target = Target(mode=mode, ports=ports, procs=procs, logs=logs, sessions_file=sessions)
        yield target
    finally:
        for proc in procs:
            bench.procs.stop(proc)
        for profiler in target.profilers if target else ():
            # py-spy writes its file once the process it samples has exited.
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=60)
            bench.procs.stop(profiler)


def start_profiling(bench: Bench, target: Target, what: str, seconds: float | None = None) -> None:
    """With --profile: sample every server process of `target` with py-spy for `seconds` (or until
    it exits), collapsed stacks per thread in `<profile_dir>/<log name>-<what>.txt`;
    `python -m bench.profile` sorts them into where the time goes."""
    if bench.profile_dir is None or target.mode.kind != "app":
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    for proc, log in zip(target.procs, target.logs, strict=True):
        output = bench.profile_dir / f"{log.stem}-{what}.txt"
        # --nonblocking: read the stacks without pausing the server, so sampling does not slow it.
        argv = [py_spy, "record", "--pid", str(proc.pid), "--format", "raw", "--threads", "--nonblocking"]
        argv += ["--rate", "200", "--output", str(output)]
        if seconds is not None:
            argv += ["--duration", str(max(1, round(seconds)))]
        target.profilers.append(bench.procs.start(f"{log.stem}-py-spy-{what}", argv, env=os.environ, cwd=PROJECT))


def stop_profiling(target: Target) -> None:
    """Stop the running py-spy samplers now: on SIGINT py-spy writes what it has."""
    for profiler in target.profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
    for profiler in target.profilers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(timeout=30)


def wait_for_participants(target: Target, count: int, timeout: float) -> bool:
    """Poll the servers' participants gauge until they hold `count` in all (False after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        total = 0
        for port in target.ports:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    text = response.read().decode()
                found = re.search(r"^audioexchange_signaling_participants ([\d.e+]+)$", text, re.MULTILINE)
                total += int(float(found.group(1))) if found else 0
        if total >= count:
            return True
        time.sleep(0.5)
    return False


def server_log_summary(target: Target) -> dict[str, Any]:
    """Tracebacks and warnings the server logged during the phase (all its processes)."""
    total: dict[str, Any] = {"tracebacks": 0, "warnings": 0, "errors": 0, "samples": []}
    for path in target.logs:
        found = scan_log(path)
        for key in ("tracebacks", "warnings", "errors"):
            total[key] += found[key]
        total["samples"] += found["samples"]
    return total


_METRIC = re.compile(r'^audioexchange_signaling_(errors_total|connections_refused_total)\{\w+="([\w-]+)"\} ([\d.e+]+)$')


def scrape_signaling_metrics(target: Target) -> dict[str, dict[str, int]]:
    """Server-side error and refusal counters from /metrics, summed over the processes."""
    if target.mode.kind != "app":
        return {}
    found: dict[str, dict[str, int]] = {"errors": {}, "refused": {}}
    for port in target.ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as response:
                text = response.read().decode()
        except OSError as error:
            found.setdefault("scrape_failures", {})[str(port)] = 1
            print(f"  (could not read /metrics on {port}: {error})", flush=True)
            continue
        for line in text.splitlines():
            match = _METRIC.match(line)
            if match and float(match.group(3)) > 0:
                key = "errors" if match.group(1) == "errors_total" else "refused"
                found[key][match.group(2)] = found[key].get(match.group(2), 0) + int(float(match.group(3)))
    return found


def wait_idle_cpu(pids: list[int], settle: float = 0.5, timeout: float = 30.0) -> None:
    """Wait until the servers stop burning CPU (after clients left), so phases do not overlap."""
    from bench.procs import cpu_seconds

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(settle)
        if sum(cpu_seconds(pid) for pid in pids) - before < settle * 0.05:
            return
