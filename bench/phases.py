"""The three measurements, each against a freshly started server (bench.targets.serve):
relay ping-pong (the seed's loadgen.js), a join storm (bench/joinstorm.js) and idle
sockets (bench/idle.js)."""

import json
import subprocess
import time
from statistics import mean
from typing import Any

from bench.procs import BenchError, CpuTrace, LineReader, cpu_seconds, last_json_line, rss_kib
from bench.targets import (
    PROJECT,
    Bench,
    Target,
    scrape_signaling_metrics,
    server_log_summary,
    start_profiling,
    stop_profiling,
    wait_for_participants,
    wait_idle_cpu,
)

BENCH_DIR = PROJECT / "bench"
ROOM_SIZE = 4
CANDIDATES = 8


def pingpong_prefix(clients: int, index: int) -> str:
    return f"pp{clients}{'ab'[index]}-"


def _loadgen_argv(target: Target, index: int, clients: int, seconds: float, prefix: str) -> list[str]:
    base = ["node", "loadgen.js", target.mode.kind, target.urls[index], str(clients), str(seconds)]
    if target.mode.kind == "seed":
        return base
    assert target.sessions_file is not None
    return [*base, str(target.sessions_file), prefix, target.origin(index)]


def _merge_loadgen(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from one loadgen per process: rates add up, the worst p99 and join time count."""
    if len(parts) == 1:
        return parts[0]
    p50s = [part["p50_ms"] for part in parts if part["p50_ms"] is not None]
    p99s = [part["p99_ms"] for part in parts if part["p99_ms"] is not None]
    return {
        "kind": parts[0]["kind"],
        "clients": sum(part["clients"] for part in parts),
        "join_s": max(part["join_s"] for part in parts),
        "join_failures": sum(part["join_failures"] for part in parts),
        "msgs_per_s": sum(part["msgs_per_s"] for part in parts),
        "p50_ms": round(mean(p50s), 2) if p50s else None,
        "p99_ms": max(p99s) if p99s else None,
        "per_process": parts,
    }


def pingpong(bench: Bench, target: Target, clients: int, seconds: float) -> dict[str, Any]:
    """Pairs play offer/answer ping-pong; with N processes, N loadgens each take whole rooms of one process."""
    share = clients // len(target.ports)
    procs = [
        bench.procs.start(
            bench.next_name(f"{target.mode.name}-loadgen{clients}-{index}"),
            _loadgen_argv(target, index, share, seconds, pingpong_prefix(clients, index)),
            env=bench.node_env(),
            cwd=bench.seed_dir,
            stdout=subprocess.PIPE,
        )
        for index in range(len(target.ports))
    ]
    cpu_before, started = sum(cpu_seconds(pid) for pid in target.pids), time.monotonic()
    deadline = started + min(seconds + 30 + clients * 0.04, bench.phase_cap)
    trace = CpuTrace(target.pids)
    try:
        _profile_pingpong(bench, target, clients, seconds, deadline)
        parts = [_loadgen_result(bench, target, proc, clients, started, deadline) for proc in procs]
    finally:
        trace.stop()
    result = _merge_loadgen(parts)
    result["server_cpu_pct"] = _cpu_pct(target, cpu_before, started)
    # The server's CPU per relayed message over the ping-pong window alone (the loadgen starts it
    # 0.2 s after its last join): the per-core cost, less blurred than msgs/s when other jobs
    # compete for the cores.
    window = (started + result["join_s"] + 1.0, started + result["join_s"] + seconds - 0.5)
    used = trace.used(*window)
    if used is not None and result["msgs_per_s"]:
        messages = result["msgs_per_s"] * (window[1] - window[0])
        result["cpu_us_per_msg"] = round(1e6 * used / messages, 1)
    return _with_server_report(target, result)


def _loadgen_result(
    bench: Bench, target: Target, proc: subprocess.Popen[bytes], clients: int, started: float, deadline: float
) -> dict[str, Any]:
    try:
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise BenchError(
            f"loadgen ({clients} clients) did not finish within {deadline - started:.0f} s: joining too slow"
        ) from None
    finally:
        bench.procs.stop(proc)
    if proc.returncode != 0:
        raise BenchError(f"loadgen failed ({proc.returncode}) against {target.mode.label}")
    return last_json_line(out.decode())


def _profile_pingpong(bench: Bench, target: Target, clients: int, seconds: float, deadline: float) -> None:
    """With --profile: one profile while the clients join, another over most of the ping-pong window."""
    if bench.profile_dir is None or target.mode.kind != "app":
        return
    start_profiling(bench, target, "join")
    joined = wait_for_participants(target, clients, deadline - time.monotonic())
    stop_profiling(target)
    if joined:
        time.sleep(0.5)  # the loadgen's pause before the ping-pong starts
        start_profiling(bench, target, "relay", seconds * 0.75)


def storm(bench: Bench, target: Target, clients: int, timeout_s: float, rate_per_s: float = 0) -> dict[str, Any]:
    """Everyone arrives at once (or at `rate_per_s`) in rooms of four and negotiates a full mesh."""
    timeout_s = max(10.0, min(timeout_s, bench.phase_cap - 20))
    options = _client_options(target, clients, "storm-") | {
        "candidates": CANDIDATES,
        "timeoutS": timeout_s,
        "ratePerS": rate_per_s,
    }
    return _run_clients(bench, target, "storm", "joinstorm.js", options, timeout_s + 60)


def resume_storm(bench: Bench, target: Target, clients: int, timeout_s: float) -> dict[str, Any]:
    """Clients join, every connection drops at once, and all come back at once with their resume tokens."""
    timeout_s = max(10.0, min(timeout_s, bench.phase_cap - 20))
    options = _client_options(target, clients, "resume-") | {"timeoutS": timeout_s}
    return _run_clients(bench, target, "resume", "resumestorm.js", options, timeout_s * 2 + clients * 0.05 + 60)


def _run_clients(
    bench: Bench, target: Target, phase: str, script: str, options: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Run one client script to its end (profiled with --profile); its JSON line and the server's CPU."""
    cpu_before, started = sum(cpu_seconds(pid) for pid in target.pids), time.monotonic()
    start_profiling(bench, target, phase)
    result: dict[str, Any] = bench.procs.run_json(
        bench.next_name(f"{target.mode.name}-{phase}"),
        ["node", str(BENCH_DIR / script), json.dumps(options)],
        env=bench.node_env(),
        cwd=BENCH_DIR,
        timeout=timeout,
    )
    result["server_cpu_pct"] = _cpu_pct(target, cpu_before, started)
    return _with_server_report(target, result)


def idle(bench: Bench, target: Target, clients: int, window_s: float, join_s: float) -> dict[str, Any]:
    """Server memory per admitted idle socket, and the CPU the server burns while they sit idle.

    Clients stop joining after `join_s` seconds, so a slow server still gives a per-socket figure."""
    join_s = max(10.0, min(join_s, bench.phase_cap - window_s - 30))
    options = _client_options(target, clients, "idle-") | {"warmup": 20, "warmPrefix": "warm-", "joinDeadlineS": join_s}
    proc = bench.procs.start(
        bench.next_name(f"{target.mode.name}-idle"),
        ["node", str(BENCH_DIR / "idle.js"), json.dumps(options)],
        env=bench.node_env(),
        cwd=BENCH_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines = LineReader(proc.stdout)
    try:
        rss_start = sum(rss_kib(pid) for pid in target.pids)
        lines.read_json(60, "warm-up connections")
        wait_idle_cpu(target.pids)
        rss_before = sum(rss_kib(pid) for pid in target.pids)
        _tell(proc, "go")
        ready = lines.read_json(join_s + 60, "idle clients to join")
        time.sleep(3)  # let the joins' last work (peer-joined fan-out, log writes) finish
        wait_idle_cpu(target.pids)
        rss_after = sum(rss_kib(pid) for pid in target.pids)
        cpu_before, started = sum(cpu_seconds(pid) for pid in target.pids), time.monotonic()
        time.sleep(window_s)
        idle_cpu = _cpu_pct(target, cpu_before, started)
        rss_end = sum(rss_kib(pid) for pid in target.pids)
        metrics = scrape_signaling_metrics(target)
        _tell(proc, "close")
        closed = lines.read_json(60, "idle clients to close")
    finally:
        bench.procs.stop(proc)
    joined = max(1, ready["joined"])
    keys = ("clients", "attempted", "joined", "join_failures", "failures", "failure_samples", "join_s")
    result = {key: ready[key] for key in keys}
    result |= {
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "kib_per_conn": round((rss_after - rss_before) / joined, 1) if ready["joined"] else None,
        "idle_cpu_pct": idle_cpu,
        "idle_window_s": window_s,
        "closed_while_idle": closed["closed_while_idle"],
    }
    return _with_server_report(target, result, metrics)


def _client_options(target: Target, clients: int, prefix: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "kind": target.mode.kind,
        "urls": target.urls,
        "clients": clients,
        "roomSize": ROOM_SIZE,
        "roomPrefix": prefix,
    }
    if target.mode.kind == "app":
        options |= {"sessionsFile": str(target.sessions_file), "origin": target.origin()}
    return options


def _tell(proc: subprocess.Popen[bytes], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.flush()


def _cpu_pct(target: Target, cpu_before: float, started: float) -> float:
    """CPU used by the server processes since `started`, in % of one core."""
    used = sum(cpu_seconds(pid) for pid in target.pids) - cpu_before
    return round(100 * used / max(1e-6, time.monotonic() - started), 1)


def _with_server_report(
    target: Target, result: dict[str, Any], metrics: dict[str, dict[str, int]] | None = None
) -> dict[str, Any]:
    if metrics is None:
        wait_idle_cpu(target.pids)  # clients just left: let the server finish their disconnects first
        metrics = scrape_signaling_metrics(target)
    if metrics:
        result["server_metrics"] = metrics
    result["server_log"] = server_log_summary(target)
    return result


def room_specs(ping_clients: list[int], storm_clients: int, idle_clients: int, resume_clients: int = 0) -> list[str]:
    """Rooms every phase needs (bench/fixtures.py PREFIX:COUNT:SIZE), distinct per phase."""
    specs = []
    for clients in ping_clients:
        for index in range(2):
            specs.append(f"{pingpong_prefix(clients, index)}:{(clients + 1) // 2}:2")
    specs.append(f"storm-:{-(-storm_clients // ROOM_SIZE)}:{ROOM_SIZE}")
    specs.append(f"idle-:{-(-idle_clients // ROOM_SIZE)}:{ROOM_SIZE}")
    if resume_clients:
        specs.append(f"resume-:{-(-resume_clients // ROOM_SIZE)}:{ROOM_SIZE}")
    specs.append(f"warm-:10:{ROOM_SIZE}")
    return specs
