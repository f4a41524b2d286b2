"""The system under chaos: its own redis-server, its own PostgreSQL database, two web processes
(`scripts/web.sh`, daphne) and a media worker, all on 127.0.0.1, and the faults done to them.

Processes and databases come from the test helpers (`tests/live_server.py`,
`tests/test_multiprocess.py`) and `bench/procs.py`, so the tool runs the app exactly as the
multi-process tests do.
"""

import contextlib
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.procs import ProcessGroup, rss_kib, scan_log
from tests.live_server import ROOT, AppServer, PostgresDatabase
from tests.test_multiprocess import RedisServer

# Short leases, so a killed process's peers lapse within seconds and the run can outwait the sweep.
PRESENCE_TTL_SECONDS = 6.0
PRESENCE_HEARTBEAT_SECONDS = 1.5
RESUME_SECONDS = 60.0
WORKER_LEASE_SECONDS = 4
# A ghost (listed, no socket) may last this long: a lease lapsing (killed process) and the next
# sweep, plus the time a leave or a sweep takes on a loaded machine.
SWEEP_GRACE_SECONDS = PRESENCE_TTL_SECONDS + 2 * PRESENCE_HEARTBEAT_SECONDS + 10.0
# A gap (open socket, not listed: Redis restarted and lost presence) lasts until the socket's
# consumer closes it with 1012; a consumer waiting on the app's Redis pool (up to 30 s, see
# RedisPresence.client) finds out only then.
GAP_GRACE_SECONDS = 30.0 + 2 * PRESENCE_HEARTBEAT_SECONDS + 2.0


@dataclass(frozen=True)
class RoomSpec:
    slug: str
    capacity: int
    knock: bool = False
    relay: bool = False


@dataclass
class MemorySample:
    server: str
    incarnation: int
    at: float
    rss_kib: int


@dataclass
class Cluster:
    """Everything the run starts; `close()` stops it all and drops the database."""

    work: Path
    rooms: list[RoomSpec]
    users: int
    database: PostgresDatabase = field(default_factory=lambda: PostgresDatabase(prefix="ax_chaos_"))
    redis: RedisServer | None = None
    servers: list[AppServer] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None
    cookies: list[str] = field(default_factory=list)
    incarnations: dict[str, int] = field(default_factory=dict)
    memory: list[MemorySample] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)  # seconds from fault to serving again

    def __post_init__(self) -> None:
        self.procs = ProcessGroup(self.work)
        self.static_root = self.work / "static"
        self.static_root.mkdir(exist_ok=True)

    # Setup ---------------------------------------------------------------------------

    def start(self) -> None:
        self.database.create()
        self.redis = RedisServer(self.work)
        self.redis.start()
        env = {
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": secrets.token_urlsafe(50),  # shared: sessions and resume tokens work on both
            "PRESENCE_TTL_SECONDS": str(PRESENCE_TTL_SECONDS),
            "PRESENCE_HEARTBEAT_SECONDS": str(PRESENCE_HEARTBEAT_SECONDS),
            "SIGNALING_RESUME_SECONDS": str(RESUME_SECONDS),
            "MEDIAWORKER_LEASE_SECONDS": str(WORKER_LEASE_SECONDS),
            "MEDIA_ROOT": str(self.work / "media"),
            "WORKER_METRICS_PORT": "0",
        }
        self.servers = [AppServer(self.database.url, self.static_root, env=env, name=f"web-{n}") for n in "ab"]
        self.servers[0].prepare()
        self._fill()
        for server in self.servers:
            server.start(timeout=90)
            self.incarnations[server.name] = 1
        self.start_worker()

    def _fill(self) -> None:
        """Users with logged-in sessions and rooms (bench/fixtures.py), then the knock and relay rooms."""
        sessions = self.work / "sessions.txt"
        argv = [sys.executable, "-m", "bench.fixtures", "--sessions", str(sessions), "--users", str(self.users)]
        done = subprocess.run(  # noqa: S603 - our own argv
            argv, cwd=ROOT, env=self.servers[0].env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench.fixtures failed:\n{done.stderr[-3000:]}")
        self.cookies = sessions.read_text().split()
        specs = [[room.slug, room.capacity, room.knock, room.relay] for room in self.rooms]
        code = (
            "from accounts.models import User\n"
            "from rooms.models import Room\n"
            "owner = User.objects.get(username='bench0')\n"
            f"for slug, size, knock, relay in {specs!r}:\n"
            "    Room.objects.create(slug=slug, name=slug, max_participants=size, knock=knock,\n"
            "                        mode='relay' if relay else 'mesh', owner=owner if knock else None)\n"
        )
        self.servers[0].manage("shell", "--no-imports", "-c", code)

    def start_worker(self) -> None:
        argv = [sys.executable, str(ROOT / "manage.py"), "mediaworker"]
        self.worker = self.procs.start("mediaworker", argv, env=self.servers[0].env, cwd=ROOT)

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def up_ports(self) -> list[int]:
        return [server.port for server in self.servers if server.running]

    # Faults (blocking: the run calls them in a thread) ----------------------------------------

    def kill_web(self, index: int, sig: signal.Signals) -> None:
        """kill -9 or SIGTERM one web process, then start it again on the same port."""
        server = self.servers[index]
        assert server.process is not None
        began = time.monotonic()
        server.process.send_signal(sig)
        server.process.wait(30)
        server.process = None
        server.start(timeout=90)
        self.incarnations[server.name] += 1
        self.restarts.append(time.monotonic() - began)

    def restart_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()
        self.redis.start()

    def terminate_database_connections(self) -> int:
        """pg_terminate_backend on every connection to the run's own database (not the server)."""
        query = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(self.database.admin_url, autocommit=True) as conn:
            row = conn.execute(query, (self.database.name,)).fetchone()
        return int(row[0]) if row else 0

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        self.worker.wait(10)
        self.procs.stop(self.worker)
        self.start_worker()

    # Measurements --------------------------------------------------------------------

    def sample_memory(self) -> None:
        for server in self.servers:
            if server.running and server.process is not None:
                with contextlib.suppress(OSError, RuntimeError):
                    rss = rss_kib(server.process.pid)
                    self.memory.append(MemorySample(server.name, self.incarnations[server.name], time.monotonic(), rss))

    def log_paths(self) -> dict[str, Path]:
        paths = {server.name: server.log_path for server in self.servers}
        paths["mediaworker"] = self.work / "mediaworker.log"
        return paths

    def scan_logs(self) -> dict[str, dict[str, Any]]:
        return {name: scan_log(path) for name, path in self.log_paths().items()}

    def stored_chat(self, prefix: str) -> dict[str, int]:
        """How many times each chat line starting with `prefix` is stored."""
        query = "SELECT text, count(*) FROM chat_chatmessage WHERE text LIKE %s GROUP BY text"
        with psycopg.connect(self.database.url, autocommit=True) as conn:
            return {text: int(count) for text, count in conn.execute(query, (prefix + "%",))}

    def close(self, keep_logs: Path | None = None) -> None:
        for server in self.servers:
            server.stop()
        if keep_logs is not None:
            for name, path in self.log_paths().items():
                if path.exists():
                    (keep_logs / f"{name}.log").write_bytes(path.read_bytes())
        for server in self.servers:
            server.close()
        self.procs.close()
        if self.redis is not None:
            self.redis.stop()
        with contextlib.suppress(psycopg.Error):
            self.database.drop()
        shutil.rmtree(self.work, ignore_errors=True)


def work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ax-chaos-"))
