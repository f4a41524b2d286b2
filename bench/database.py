"""The benchmark's own databases: a fresh SQLite file, and a fresh PostgreSQL database
for the multi-process mode (both processes must see the same sessions and rooms)."""

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from bench.procs import BenchError
from bench.targets import MODES, PROJECT, Bench, app_env, migrations_fingerprint


def fill(bench: Bench, database_url: str, users: int, rooms: Sequence[str], timeout: float = 600) -> None:
    """Migrate `database_url` and create users, sessions and rooms (bench/fixtures.py)."""
    sessions = bench.work / f"sessions-{len(bench.sessions)}.txt"
    fingerprint = migrations_fingerprint()
    argv = [
        sys.executable,
        "-m",
        "bench.fixtures",
        "--sessions",
        str(sessions),
        "--users",
        str(users),
        "--rooms",
        *rooms,
    ]
    name = bench.next_name("fixtures")
    proc = bench.procs.start(name, argv, env=app_env(bench, MODES["embedded"], database_url), cwd=PROJECT)
    try:
        code = proc.wait(timeout=timeout)
    finally:
        bench.procs.stop(proc)
    if code != 0:
        raise BenchError(f"creating fixtures failed ({code}); see {bench.procs.log_dir / (name + '.log')}")
    bench.sessions[database_url] = sessions
    bench.migrated[database_url] = fingerprint


def sqlite_url(bench: Bench) -> str:
    return f"sqlite:///{bench.work / 'bench.sqlite3'}"


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database next to `admin_url`'s and drop it afterwards."""
    import psycopg

    name = f"audioexchange_bench_{os.getpid()}"
    parts = urlsplit(admin_url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as error:
            print(f"could not drop benchmark database {name}: {error}", file=sys.stderr)
