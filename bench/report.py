"""Figures into words: the side-by-side table, ratios to the seed, the issue's targets,
and the results section of docs/performance.md."""

import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procs import machine_busy_pct


def _markers(section: str) -> tuple[str, str]:
    return (
        f"<!-- bench:results:{section}:start (written by `python -m bench.signaling --write-docs`) -->",
        f"<!-- bench:results:{section}:end -->",
    )


# The targets of issue 14, for every mode of our app against the seed: relay throughput with
# one process, and with one per core (two here); the rest for both.
MIN_THROUGHPUT_RATIO = 0.6
MIN_THROUGHPUT_RATIO_PER_CORE = 1.0
MAX_P99_RATIO = 1.5
MAX_STORM_RATIO = 1.5
MAX_KIB_PER_IDLE_CONN = 20.0
MAX_IDLE_CPU_RATIO = 1.5


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    node = shutil.which("node")
    node_version = "-"
    if node:
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()  # noqa: S603
    versions = {}
    for package in ("django", "channels", "channels-redis", "daphne", "uvicorn", "granian", "twisted", "redis"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "ram_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node_version,
        "packages": versions,
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "busy_pct_at_start": round(machine_busy_pct(), 1),
    }


def _ratio(ours: float | None, seed: float | None) -> float | None:
    if ours is None or seed is None or seed == 0:
        return None
    return round(ours / seed, 2)


def ratios(results: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """ours / seed for every figure, per mode of our app."""
    seed = results["modes"].get("seed")
    if not seed:
        return {}
    out: dict[str, dict[str, float | None]] = {}
    for name, mode in results["modes"].items():
        if name == "seed":
            continue
        row: dict[str, float | None] = {}
        for clients, ping in mode.get("pingpong", {}).items():
            seed_ping = seed.get("pingpong", {}).get(clients, {})
            row[f"msgs_per_s@{clients}"] = _ratio(ping.get("msgs_per_s"), seed_ping.get("msgs_per_s"))
            row[f"p50_ms@{clients}"] = _ratio(ping.get("p50_ms"), seed_ping.get("p50_ms"))
            row[f"p99_ms@{clients}"] = _ratio(ping.get("p99_ms"), seed_ping.get("p99_ms"))
            row[f"cpu_us_per_msg@{clients}"] = _ratio(ping.get("cpu_us_per_msg"), seed_ping.get("cpu_us_per_msg"))
        if "storm" in mode:
            row["storm_done_s"] = _ratio(mode["storm"].get("done_s"), seed.get("storm", {}).get("done_s"))
        if "resume" in mode:
            row["resume_done_s"] = _ratio(mode["resume"].get("done_s"), seed.get("resume", {}).get("done_s"))
        if "idle" in mode:
            idle, seed_idle = mode["idle"], seed.get("idle", {})
            row["kib_per_conn"] = _ratio(idle.get("kib_per_conn"), seed_idle.get("kib_per_conn"))
            row["idle_cpu_pct"] = _ratio(idle.get("idle_cpu_pct"), seed_idle.get("idle_cpu_pct"))
        out[name] = row
    return out


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def targets(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The issue's targets, met or missed, per mode of our app."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, row in results.get("ratios", {}).items():
        mode = results["modes"][name]
        minimum = MIN_THROUGHPUT_RATIO_PER_CORE if mode.get("processes", 1) > 1 else MIN_THROUGHPUT_RATIO
        # One label for every mode (the tables set modes side by side by label).
        relay = f"relay throughput >= {MIN_THROUGHPUT_RATIO}x seed"
        relay += f" (>= {MIN_THROUGHPUT_RATIO_PER_CORE}x with a process per core)"
        checks = []
        for clients, ping in mode.get("pingpong", {}).items():
            if "error" in ping and "error" not in results["modes"]["seed"].get("pingpong", {}).get(clients, {}):
                # The seed finished and ours did not: a miss, not a lack of data.
                checks.append(_check(f"{relay} at {clients}", "none", False))
                checks.append(_check(f"p99 <= {MAX_P99_RATIO}x seed at {clients}", "none", False))
                continue
            value = row.get(f"msgs_per_s@{clients}")
            checks.append(
                _check(
                    f"{relay} at {clients}",
                    value,
                    None if value is None else value >= minimum,
                )
            )
            value = row.get(f"p99_ms@{clients}")
            ok = None if value is None else value <= MAX_P99_RATIO
            if value is None and ping.get("msgs_per_s") == 0:
                value, ok = "no reply within the window", False
            checks.append(_check(f"p99 <= {MAX_P99_RATIO}x seed at {clients}", value, ok))
        for phase, what in (("storm", "join storm"), ("resume", "resume storm")):
            checks += _storm_checks(mode.get(phase, {}), row.get(f"{phase}_done_s"), what)
        if "idle" in mode:
            kib = mode["idle"].get("kib_per_conn")
            ok = None if kib is None else kib <= MAX_KIB_PER_IDLE_CONN
            checks.append(_check(f"<= {MAX_KIB_PER_IDLE_CONN:.0f} KiB per idle connection", kib, ok))
            cpu = row.get("idle_cpu_pct")
            checks.append(_check(f"idle CPU <= {MAX_IDLE_CPU_RATIO}x seed", cpu, None if cpu is None else cpu <= 1.5))
        out[name] = checks
    return out


def _storm_checks(storm: dict[str, Any], ratio: float | None, what: str) -> list[dict[str, Any]]:
    if "joined" not in storm:
        return []
    clients = storm["clients"]
    everyone = storm["join_failures"] == 0 and storm.get("done_s") is not None
    if "pairs_done" in storm:
        detail = f"{storm['joined']} joined, {storm['join_failures']} failed, "
        detail += f"{storm['pairs_done']}/{storm['pairs_expected']} pairs"
    else:
        detail = f"{storm.get('rejoined', 0)} back, {storm['join_failures']} failed"
    return [
        _check(f"{what} of {clients}: zero failures", detail, everyone),
        _check(
            f"{what} of {clients}: done in <= {MAX_STORM_RATIO}x the seed's time",
            ratio,
            None if ratio is None else ratio <= MAX_STORM_RATIO,
        ),
    ]


def _check(target: str, value: Any, ok: bool | None) -> dict[str, Any]:
    return {"target": target, "value": value, "verdict": _verdict(ok)}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _rows(results: dict[str, Any]) -> list[tuple[str, list[str]]]:
    modes = list(results["modes"].values())
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, pick: Any) -> None:
        rows.append((label, [pick(mode) for mode in modes]))

    for clients in results["options"]["clients"]:
        key = str(clients)

        def ping(mode: dict[str, Any], field: str, key: str = key) -> Any:
            found = mode.get("pingpong", {}).get(key)
            return "failed" if found and "error" in found else _fmt((found or {}).get(field))

        add(f"ping-pong {clients}: msgs/s", lambda m, p=ping: p(m, "msgs_per_s"))
        add(f"ping-pong {clients}: p50 ms", lambda m, p=ping: p(m, "p50_ms"))
        add(f"ping-pong {clients}: p99 ms", lambda m, p=ping: p(m, "p99_ms"))
        add(f"ping-pong {clients}: join s / failures", lambda m, p=ping: f"{p(m, 'join_s')} / {p(m, 'join_failures')}")
        add(f"ping-pong {clients}: server CPU %", lambda m, p=ping: p(m, "server_cpu_pct"))
        add(f"ping-pong {clients}: server CPU us per message", lambda m, p=ping: p(m, "cpu_us_per_msg"))

    def phase(name: str, field: str) -> Any:
        return lambda m: "failed" if "error" in m.get(name, {}) else _fmt(m.get(name, {}).get(field))

    storm_n = results["options"]["storm_clients"]
    if not any("storm" in mode for mode in modes):
        storm_n = 0
    if storm_n:
        add(f"join storm {storm_n}: all pairs done, s", phase("storm", "done_s"))
        add(f"join storm {storm_n}: last welcome, s", phase("storm", "all_joined_s"))
        add(
            f"join storm {storm_n}: joined / failed",
            lambda m: f"{phase('storm', 'joined')(m)} / {phase('storm', 'join_failures')(m)}",
        )
        add(
            f"join storm {storm_n}: pairs done / expected",
            lambda m: f"{phase('storm', 'pairs_done')(m)} / {phase('storm', 'pairs_expected')(m)}",
        )
        add(
            f"join storm {storm_n}: join p50 / p99 ms",
            lambda m: f"{phase('storm', 'join_p50_ms')(m)} / {phase('storm', 'join_p99_ms')(m)}",
        )
    if any("resume" in mode for mode in modes):
        resume_n = results["options"].get("resume_clients", storm_n)
        add(f"resume storm {resume_n}: all back, s", phase("resume", "done_s"))
        add(f"resume storm {resume_n}: last welcome, s", phase("resume", "last_welcome_s"))
        add(
            f"resume storm {resume_n}: back / failed / resumed",
            lambda m: (
                f"{phase('resume', 'rejoined')(m)} / {phase('resume', 'join_failures')(m)}"
                f" / {phase('resume', 'resumed')(m)}"
            ),
        )
        add(
            f"resume storm {resume_n}: rejoin p50 / p99 ms",
            lambda m: f"{phase('resume', 'join_p50_ms')(m)} / {phase('resume', 'join_p99_ms')(m)}",
        )
    idle_n = results["options"]["idle_clients"]
    if any("idle" in mode for mode in modes):
        add(f"idle {idle_n}: KiB per connection", phase("idle", "kib_per_conn"))
        add(f"idle {idle_n}: idle CPU % (one core)", lambda m: phase("idle", "idle_cpu_pct")(m))
        add(
            f"idle {idle_n}: RSS before / after MiB",
            lambda m: f"{phase('idle', 'rss_before_mib')(m)} / {phase('idle', 'rss_after_mib')(m)}",
        )
        add(
            f"idle {idle_n}: joined / failed",
            lambda m: f"{phase('idle', 'joined')(m)} / {phase('idle', 'join_failures')(m)}",
        )
    add("machine busy before a phase, max %", _busiest)
    return rows


def _busiest(mode: dict[str, Any]) -> str:
    """How busy other processes kept the machine just before this mode's phases (noise)."""
    return _fmt(max((phase.get("busy_before_pct", 0.0) for _, phase in _phases(mode)), default=None))


def text_table(results: dict[str, Any]) -> str:
    headers = ["", *(mode["label"] for mode in results["modes"].values())]
    rows = [[label, *cells] for label, cells in _rows(results)]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(
            str(cell).rjust(width) if i else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in [headers, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    for name, checks in results.get("targets", {}).items():
        lines.append("")
        lines.append(f"{results['modes'][name]['label']} vs seed:")
        for key, value in results["ratios"][name].items():
            lines.append(f"  ratio {key:<22} {_fmt(value, 2)}")
        for check in checks:
            lines.append(f"  [{check['verdict']:>6}] {check['target']}: {_fmt(check['value'], 2)}")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The results section of docs/performance.md."""
    m = results["machine"]
    out = [
        f"Run of {results['date']} (`python -m bench.signaling {results['argv']}`), "
        f"{results['elapsed_s']:.0f} s in all.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}, Node {m['node']}; "
        + ", ".join(f"{name} {version}" for name, version in m["packages"].items())
        + f". Load average at start {' '.join(m['loadavg_at_start'])}, "
        f"CPUs {m['busy_pct_at_start']}% busy just before the run.",
        "",
        "| | " + " | ".join(mode["label"] for mode in results["modes"].values()) + " |",
        "|---|" + "---:|" * len(results["modes"]),
    ]
    out += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in _rows(results)]
    out += _comparison_tables(results)
    problems = _problems(results)
    if problems:
        out += ["", "What the servers reported during the run:", ""] + [f"- {line}" for line in problems]
    return "\n".join(out)


def _comparison_tables(results: dict[str, Any]) -> list[str]:
    """Ratios (ours / seed) and the issue's targets, one column per mode of our app."""
    names = list(results.get("ratios", {}))
    if not names:
        return []
    header = "| | " + " | ".join(results["modes"][name]["label"] for name in names) + " |"
    rule = "|---|" + "---:|" * len(names)
    out = ["", "Ratios, ours / seed (throughput: higher is better; the rest: lower is better):", "", header, rule]
    for key in results["ratios"][names[0]]:
        out.append(f"| {key} | " + " | ".join(_fmt(results["ratios"][name].get(key), 2) for name in names) + " |")
    out += ["", "The issue's targets:", "", header, rule.replace("---:", "---")]
    for index, check in enumerate(results["targets"][names[0]]):
        cells = []
        for name in names:
            found = results["targets"][name][index]
            cells.append(f"{found['verdict']} ({_fmt(found['value'], 2)})")
        out.append(f"| {check['target']} | " + " | ".join(cells) + " |")
    return out


def _problems(results: dict[str, Any]) -> list[str]:
    lines = []
    for mode in results["modes"].values():
        for phase_name, phase in _phases(mode):
            if "error" in phase:
                lines.append(f"{mode['label']}, {phase_name}: benchmark step failed: {phase['error']}")
                continue
            log = phase.get("server_log", {})
            if log.get("tracebacks") or log.get("errors"):
                samples = "; ".join(log.get("samples", []))
                lines.append(
                    f"{mode['label']}, {phase_name}: {log['tracebacks']} tracebacks, "
                    f"{log['errors']} ERROR lines ({samples})"
                )
            metrics = phase.get("server_metrics", {})
            for kind in ("errors", "refused"):
                if metrics.get(kind):
                    lines.append(f"{mode['label']}, {phase_name}: server {kind}: {metrics[kind]}")
    return lines


def _phases(mode: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"ping-pong {clients}", phase) for clients, phase in mode.get("pingpong", {}).items()]
    found += [(name, mode[name]) for name in ("storm", "resume", "idle") if name in mode]
    return found


def write_docs(path: Path, results: dict[str, Any], section: str = "main") -> None:
    """Replace the results section named `section` of `path` (between its markers), or append one."""
    start, end = _markers(section)
    block = f"{start}\n{markdown(results)}\n{end}"
    text = path.read_text() if path.exists() else "# Performance\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n## Results ({section})\n\n" + block + "\n"
    path.write_text(text)
