"""The real application in a subprocess, for browser and multi-process tests.

`PostgresDatabase` makes a fresh, throwaway database for one run; `AppServer` runs one
daphne process over it, as production does (DEBUG off, collected static files served by
WhiteNoise). Several `AppServer`s may share one database and one `REDIS_URL`, e.g. behind
nginx: run `prepare()` (migrate, collectstatic) on one of them, then `start()` each.
"""

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("LIVE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery staple"
# Variables of the test process that must not leak into the app under test.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "STATIC_ROOT", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")


# Listening ports come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range,
# 32768-60999 by default). A port the OS hands out as free is an ephemeral one, and between the
# pick and the server's bind any outgoing connection (a browser's, a client's) may take it as its
# source port: seen once as daphne's "Address already in use" while five test runs shared the
# machine. Below that range only another listener can hold a port, and the bind check sees it.
_LISTEN_PORTS = range(20000, 32768)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, outside the range outgoing connections draw from."""
    for port in random.sample(_LISTEN_PORTS, 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port on {host} in {_LISTEN_PORTS.start}-{_LISTEN_PORTS.stop - 1}.")


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `condition` until it holds; raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(interval)


class PostgresDatabase:
    """A database created for one run on the local PostgreSQL server, dropped afterwards."""

    def __init__(self, admin_url: str = POSTGRES_ADMIN_URL, prefix: str = "ax_live_") -> None:
        self.admin_url = admin_url
        self.name = f"{prefix}{secrets.token_hex(6)}"
        parts = urlsplit(admin_url)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", parts.query, parts.fragment))

    def create(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        # FORCE: a server that did not stop cleanly may still hold connections.
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def __enter__(self) -> Self:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str = ""
    password: str = PASSWORD


class AppServer:
    """One `daphne audioexchange.asgi:application` process with production-like settings."""

    def __init__(
        self,
        database_url: str,
        static_root: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        env: dict[str, str] | None = None,
        name: str = "app",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.name = name
        self.static_root = static_root
        self.env = self._environment(database_url, static_root, env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"ax-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _environment(self, database_url: str, static_root: Path, extra: dict[str, str]) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
        env.update(
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            STATIC_ROOT=str(static_root),
            DJANGO_SETTINGS_MODULE="audioexchange.settings",
            PYTHONUNBUFFERED="1",
            # Every test logs people in from 127.0.0.1; a test of the limit sets its own.
            LOGIN_ATTEMPTS_PER_MINUTE="10000",
            JOIN_TOKEN_SECRET=secrets.token_urlsafe(32),  # tests sign join tokens with env["JOIN_TOKEN_SECRET"]
        )
        env.update(extra)
        return env

    # Management commands ------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run `manage.py ARGS` with the server's settings; return stdout, raise with stderr."""
        command = [sys.executable, str(ROOT / "manage.py"), *args]
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        return done.stdout

    def prepare(self) -> None:
        """Create the schema and collect static files: once per database and STATIC_ROOT."""
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")

    def create_users(self, people: Iterable[Person]) -> None:
        """Create accounts (one process for all of them); existing usernames are left alone."""
        payload = json.dumps([vars(person) for person in people])
        code = (
            "import json\n"
            "from accounts.models import User\n"
            f"for p in json.loads({payload!r}):\n"
            "    if not User.objects.filter(username=p['username']).exists():\n"
            "        User.objects.create_user(p['username'], password=p['password'], display_name=p['display_name'])\n"
        )
        self.manage("shell", "--no-imports", "-c", code)

    def create_room(
        self,
        slug: str,
        *,
        owner: str,
        name: str = "",
        audio_only: bool = False,
        max_participants: int | None = None,
        mode: str = "mesh",
    ) -> None:
        args = ["createroom", slug, "--owner", owner, "--mode", mode]
        if name:
            args += ["--name", name]
        if audio_only:
            args.append("--audio-only")
        if max_participants is not None:
            args += ["--max-participants", str(max_participants)]
        self.manage(*args)

    # The server process ------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Start daphne (the Procfile's command line) and return once it answers HTTP; raise with its log if not."""
        daphne = Path(sys.executable).with_name("daphne")
        env = {**self.env, "DAPHNE": str(daphne), "HOST": self.host, "PORT": str(self.port)}
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "web.sh")],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(self._answers, timeout, f"{self.name} on {self.url}")
        except Exception as error:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {error}\n--- its log ---\n{self.log_tail()}") from None

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"daphne exited with code {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=2) as response:
                return response.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 500
        except OSError:
            return False

    def stop(self, timeout: float = 10) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 20000) -> str:
        text = self.log_path.read_text(errors="replace")
        return text[-chars:]

    def close(self) -> None:
        """Stop the process and delete its log."""
        self.stop()
        self._log.close()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
