"""Signaling benchmark: our server against the seed's Node.js/Socket.IO server, in one run.

    python -m bench.signaling                      # full run, kept within --budget-minutes (19)
    python -m bench.signaling --quick              # a short run, small numbers
    python -m bench.signaling --modes embedded,seed --clients 1000 --seconds 8
    python -m bench.signaling --write-docs         # also rewrite the results in docs/performance.md

Run it with the project's virtualenv (`.venv/bin/python -m bench.signaling`). It starts every
server itself on 127.0.0.1, against its own SQLite file (and its own PostgreSQL database and
Redis db for the `redis` mode), and stops them at the end, also on Ctrl-C. See
docs/performance.md for what each figure means.
"""

import argparse
import contextlib
import functools
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import database, phases, report
from bench.procs import BenchError, ProcessGroup, terminate_as_interrupt, wait_for_quiet
from bench.targets import MODES, PROJECT, Bench, Mode, Target, flush_redis, prepare_seed, serve, server_available

DOCS = PROJECT / "docs" / "performance.md"
CACHE = Path.home() / ".cache" / "audioexchange-bench" / "seed"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.signaling", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--modes", default="embedded,redis,uvicorn,granian,seed", help="comma-separated: " + ",".join(MODES)
    )
    parser.add_argument(
        "--phases", default="pingpong,storm,resume,idle", help="comma-separated: pingpong,storm,resume,idle"
    )
    parser.add_argument("--clients", default="1000,5000", help="ping-pong client counts (default 1000,5000)")
    parser.add_argument("--seconds", type=float, default=8, help="ping-pong measuring time (default 8)")
    parser.add_argument("--storm-clients", type=int, default=5000)
    parser.add_argument("--storm-timeout", type=float, default=60, help="seconds before the storm gives up")
    parser.add_argument("--resume-clients", type=int, default=0, help="resume storm size (default: --storm-clients)")
    parser.add_argument(
        "--storm-rate", type=float, default=0, help="storm arrivals per second (default 0: everyone at once)"
    )
    parser.add_argument("--idle-clients", type=int, default=5000)
    parser.add_argument("--idle-seconds", type=float, default=10, help="idle CPU measuring window")
    parser.add_argument(
        "--idle-join-seconds", type=float, default=90, help="idle clients stop joining after this (default 90)"
    )
    parser.add_argument(
        "--budget-minutes", type=float, default=19, help="phases are cut short or skipped to end by then (default 19)"
    )
    parser.add_argument("--quick", action="store_true", help="short run: 200 clients, 3 s, storm and idle of 400")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="its db is flushed (default db 13)")
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="server where the redis mode's database is created and dropped ('' for SQLite)",
    )
    parser.add_argument("--seed-cache", type=Path, default=CACHE, help="where the seed is copied and npm-installed")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the results section of {DOCS.name}")
    parser.add_argument("--docs-section", default="main", help="which results section --write-docs rewrites")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases) afterwards")
    parser.add_argument(
        "--profile", type=Path, help="record every app server with py-spy into this directory (see bench/profile.py)"
    )
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: print (and --write-docs) the results saved by --json"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.storm_clients, args.idle_clients = "200", 3, 400, 400
        args.resume_clients = 400
        args.idle_seconds, args.storm_timeout, args.idle_join_seconds = 5, 30, 30
    args.client_counts = [int(n) for n in str(args.clients).split(",") if n.strip()]
    args.mode_names = [name.strip() for name in args.modes.split(",") if name.strip()]
    args.phase_names = {name.strip() for name in args.phases.split(",") if name.strip()}
    if args.phase_names - {"pingpong", "storm", "resume", "idle"}:
        parser.error("--phases takes pingpong, storm, resume and idle")
    args.resume_clients = args.resume_clients or args.storm_clients
    unknown = [name for name in args.mode_names if name not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
    if any(n < 4 or n % 4 for n in args.client_counts):
        parser.error("--clients must be multiples of 4 (pairs, split over two processes in the redis mode)")
    return args


def usable_modes(args: argparse.Namespace, bench: Bench) -> list[Mode]:
    """The requested modes this machine can run; the others are skipped with a note."""
    modes = []
    for name in args.mode_names:
        server = MODES[name].server
        if server in ("uvicorn", "granian") and not server_available(server):
            bench.notes.append(f"{name} skipped: not installed (pip install 'uvicorn[standard]' granian in the venv)")
            continue
        if name == "redis":
            try:
                flush_redis(bench.redis_url)
            except Exception as error:
                bench.notes.append(f"redis mode skipped: {bench.redis_url} unreachable ({error})")
                continue
        modes.append(MODES[name])
    return modes


@contextlib.contextmanager
def prepared(args: argparse.Namespace, bench: Bench, modes: list[Mode]) -> Iterator[None]:
    """Databases with fixtures for the app modes; the PostgreSQL one is dropped afterwards."""
    users = max([*args.client_counts, args.storm_clients, args.idle_clients, args.resume_clients])
    rooms = phases.room_specs(args.client_counts, args.storm_clients, args.idle_clients, args.resume_clients)
    with contextlib.ExitStack() as stack:
        if any(mode.kind == "app" for mode in modes):
            bench.sqlite_url = database.sqlite_url(bench)
            print(f"creating {users} users and sessions in a fresh SQLite database ...", flush=True)
            database.fill(bench, bench.sqlite_url, users, rooms)
        if any(mode.shared for mode in modes) and args.postgres_url:
            try:
                bench.postgres_url = stack.enter_context(database.postgres_database(args.postgres_url))
            except Exception as error:
                bench.notes.append(f"PostgreSQL unreachable ({error}): the redis mode shares the SQLite file")
            else:
                print("creating the same in a fresh PostgreSQL database for the redis mode ...", flush=True)
                database.fill(bench, bench.postgres_url, users, rooms)
        yield


MIN_PHASE_S = 30.0


def measure(
    bench: Bench, mode: Mode, phase: str, run: Callable[[Target], dict[str, Any]], phases_after: int
) -> dict[str, Any]:
    """One phase against a fresh server; a failure is recorded and the run goes on.

    The phase may use the time left in the budget, less MIN_PHASE_S for each phase after it."""
    bench.phase_cap = bench.time_left() - MIN_PHASE_S * phases_after
    if bench.phase_cap < MIN_PHASE_S:
        print(f"  {mode.label:<24} {phase}: skipped, out of time (--budget-minutes)", flush=True)
        return {"error": "skipped: the run's time budget (--budget-minutes) was spent"}
    busy = wait_for_quiet()
    print(f"  {mode.label:<24} {phase} (machine {busy:.0f}% busy before) ...", end=" ", flush=True)
    started = time.monotonic()
    try:
        with serve(bench, mode, phase.split()[0]) as target:
            result = run(target)
    except BenchError as error:
        print(f"failed: {error}", flush=True)
        return {"error": str(error), "busy_before_pct": busy}
    result["busy_before_pct"] = busy
    print(f"{time.monotonic() - started:.0f} s: {summary(result)}", flush=True)
    return result


def summary(result: dict[str, Any]) -> str:
    keys = (
        "msgs_per_s",
        "p50_ms",
        "p99_ms",
        "join_s",
        "done_s",
        "joined",
        "join_failures",
        "kib_per_conn",
        "idle_cpu_pct",
    )
    return ", ".join(f"{key}={result[key]}" for key in keys if key in result)


def pingpong(bench: Bench, clients: int, seconds: float, target: Target) -> dict[str, Any]:
    return phases.pingpong(bench, target, clients, seconds)


def run_phases(args: argparse.Namespace, bench: Bench, modes: list[Mode]) -> dict[str, dict[str, Any]]:
    """Phase by phase, every mode in turn, so figures set side by side were taken close in time.

    The first ping-pong size, the storm and the idle sockets come first; larger ping-pong sizes,
    the slowest to join, come last and are the first to be cut if the time budget runs out."""
    out: dict[str, dict[str, Any]] = {
        mode.name: {"label": mode.label, "processes": mode.processes, "pingpong": {}} for mode in modes
    }
    steps: list[tuple[str, str, Callable[[Target], dict[str, Any]]]] = []
    counts = args.client_counts if "pingpong" in args.phase_names else []
    for clients in counts[:1]:
        steps.append(pingpong_step(bench, clients, args.seconds))
    if "storm" in args.phase_names:
        title = f"join storm, {args.storm_clients} clients in rooms of {phases.ROOM_SIZE}"
        steps.append(
            (title, "storm", lambda t: phases.storm(bench, t, args.storm_clients, args.storm_timeout, args.storm_rate))
        )
    if "resume" in args.phase_names:
        title = f"resume storm, {args.resume_clients} clients dropped at once, back with resume tokens"
        steps.append(
            (title, "resume", lambda t: phases.resume_storm(bench, t, args.resume_clients, args.storm_timeout))
        )
    if "idle" in args.phase_names:
        idle = functools.partial(idle_phase, bench, args)
        steps.append((f"idle sockets, {args.idle_clients}", "idle", idle))
    for clients in counts[1:]:
        steps.append(pingpong_step(bench, clients, args.seconds))
    left = len(steps) * len(modes)
    # The seed first: it is quick, and the reference every ratio needs.
    run_order = sorted(modes, key=lambda mode: mode.kind != "seed")
    for title, phase, run in steps:
        print(f"{title}:", flush=True)
        for mode in run_order:
            left -= 1
            result = measure(bench, mode, phase, run, left)
            if phase.startswith("pingpong"):
                out[mode.name]["pingpong"][phase.split()[1]] = result
            else:
                out[mode.name][phase] = result
    return out


def pingpong_step(bench: Bench, clients: int, seconds: float) -> tuple[str, str, Callable[[Target], dict[str, Any]]]:
    title = f"ping-pong, {clients} clients, {seconds:g} s"
    return title, f"pingpong {clients}", functools.partial(pingpong, bench, clients, seconds)


def idle_phase(bench: Bench, args: argparse.Namespace, target: Target) -> dict[str, Any]:
    return phases.idle(bench, target, args.idle_clients, args.idle_seconds, args.idle_join_seconds)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        saved["ratios"] = report.ratios(saved)
        saved["targets"] = report.targets(saved)
        return show(saved, args)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="audioexchange-bench-"))
    (work / "logs").mkdir()
    (work / "static").mkdir()
    procs = ProcessGroup(work / "logs")
    bench = Bench(work=work, seed_dir=args.seed_cache, procs=procs, redis_url=args.redis_url)
    bench.deadline = started + args.budget_minutes * 60
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        bench.profile_dir = args.profile.resolve()
    results: dict[str, Any] = {}
    try:
        with terminate_as_interrupt():
            results = collect(args, argv, bench, started)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping servers and clients", file=sys.stderr)
        return 130
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        procs.close()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(json.dumps(results))
    return show(results, args)


def show(results: dict[str, Any], args: argparse.Namespace) -> int:
    print()
    print(report.text_table(results))
    for note in results["notes"]:
        print(f"note: {note}")
    if args.write_docs:
        report.write_docs(DOCS, results, args.docs_section)
        print(f"wrote the results section of {DOCS}", file=sys.stderr)
    return 0


def collect(args: argparse.Namespace, argv: list[str], bench: Bench, started: float) -> dict[str, Any]:
    bench.seed_dir = prepare_seed(args.seed_cache, bench.procs)
    machine = report.machine()
    modes = usable_modes(args, bench)
    if machine["busy_pct_at_start"] > 20:
        bench.notes.append(f"the machine was {machine['busy_pct_at_start']}% busy before the run: figures are noisy")
    with prepared(args, bench, modes):
        measured = run_phases(args, bench, modes)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": shlex.join(argv),
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": machine,
        "options": {
            "clients": args.client_counts,
            "seconds": args.seconds,
            "storm_clients": args.storm_clients,
            "storm_timeout_s": args.storm_timeout,
            "storm_rate_per_s": args.storm_rate,
            "resume_clients": args.resume_clients,
            "idle_clients": args.idle_clients,
            "idle_seconds": args.idle_seconds,
            "idle_join_seconds": args.idle_join_seconds,
            "budget_minutes": args.budget_minutes,
        },
        "modes": measured,
        "notes": bench.notes,
    }
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    return results


if __name__ == "__main__":
    sys.exit(main())
