"""Processes for the benchmark: start, wait for, read, measure and always stop them.

Every process is started in its own session (so a Ctrl-C in the terminal reaches
only the benchmark, which then stops them itself) and is stopped by its own pid.
"""

import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuTrace:
    """CPU time used by `pids`, read every `interval` seconds in a thread, to measure a window
    afterwards (the ping-pong's, known only once the load generator reports its join time)."""

    def __init__(self, pids: Sequence[int], interval: float = 0.2) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.samples.append((time.monotonic(), sum(cpu_seconds(pid) for pid in self.pids)))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def used(self, start: float, end: float) -> float | None:
        """CPU seconds used from `start` to `end` (monotonic), from the nearest samples inside."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end]
        if len(inside) < 2 or inside[-1][0] - inside[0][0] < (end - start) / 2:
            return None
        (t0, cpu0), (t1, cpu1) = inside[0], inside[-1]
        return (cpu1 - cpu0) * (end - start) / (t1 - t0)


def machine_busy_pct(window: float = 1.0) -> float:
    """Share of all CPUs busy over `window` seconds, from /proc/stat (to warn about noisy neighbours)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(window)
    total1, idle1 = sample()
    return 100.0 * (1 - (idle1 - idle0) / max(1, total1 - total0))


def wait_for_quiet(threshold: float = 25.0, patience: float = 10.0) -> float:
    """Wait up to `patience` s for the machine to be under `threshold`% busy; return the last reading."""
    deadline = time.monotonic() + patience
    busy = machine_busy_pct()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy_pct()
    return round(busy, 1)


def last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise BenchError(f"no JSON line in output: {text[-300:]!r}")


class LineReader:
    """Read whole lines from a child's stdout with a deadline (no blocking readline)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._buffer = b""

    def read_json(self, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise BenchError(f"process ended while waiting for {what}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        return result


class ProcessGroup:
    """Owns every process the benchmark starts; `close()` stops whatever is left."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv`; stderr (and stdout unless piped) go to `<log_dir>/<name>.log`."""
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - argv is built by the benchmark, never from input
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=stdin,
            stdout=stdout if stdout is not None else log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        self.running.append(proc)
        return proc

    def run_json(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float) -> Any:
        """Run a command to its end and return the last JSON line it printed."""
        proc = self.start(name, argv, env=env, cwd=cwd, stdout=subprocess.PIPE)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise BenchError(f"{name} did not finish within {timeout:.0f} s") from None
        finally:
            self._forget(proc)
        if proc.returncode != 0:
            raise BenchError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")
        return last_json_line(out.decode())

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 6.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self._forget(proc)

    def _forget(self, proc: subprocess.Popen[bytes]) -> None:
        if proc in self.running:
            self.running.remove(proc)

    def close(self) -> None:
        for proc in list(self.running):
            self.stop(proc, grace=3.0)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise BenchError(f"{name} did not listen on port {port} within {timeout:.0f} s")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so cleanup runs however the benchmark is stopped."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def scan_log(path: Path, limit: int = 3) -> dict[str, Any]:
    """Count tracebacks and warnings in a server log; keep a few distinct exception lines."""
    if not path.exists():
        return {"tracebacks": 0, "warnings": 0, "errors": 0, "samples": []}
    text = path.read_text(errors="replace")
    samples: dict[str, int] = {}
    in_traceback = False
    for line in text.splitlines():
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            # The first unindented line after the frames names the exception.
            in_traceback = False
            samples[line[:200]] = samples.get(line[:200], 0) + 1
    return {
        "tracebacks": text.count("Traceback (most recent call last)"),
        "warnings": len(re.findall(r" WARNING ", text)),
        "errors": len(re.findall(r" (ERROR|CRITICAL) ", text)),
        "samples": [f"{count}x {line}" for line, count in sorted(samples.items(), key=lambda kv: -kv[1])[:limit]],
    }


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children...), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found
