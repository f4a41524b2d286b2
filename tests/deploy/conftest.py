"""Run the deployment's real programs (coturn, nginx, promtool, docker-compose, openssl)
from Debian's packages on loopback, each in its own temporary directory, and stop them.

The tools come from `scripts/install-deploy-tools.sh` (run by `make services`, hence by
`make test`); a test whose tool is missing fails with that hint: nothing is skipped.
"""

import os
import shutil
import signal
import ssl
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import ROOT, wait_for

DEPLOY = ROOT / "deploy"
TOOLS_HINT = "run `sudo scripts/install-deploy-tools.sh` (Debian packages coturn, nginx, prometheus, docker-compose)"


def require(*programs: str) -> None:
    """Fail the calling test, with the way to fix it, unless every program is on PATH."""
    missing = [program for program in programs if shutil.which(program) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: {TOOLS_HINT}")


def run(
    command: Sequence[str | Path],
    *,
    timeout: float = 60,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, capturing text output (never raises on a non-zero exit)."""
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        input=input,
        check=False,
    )


def load_yaml(text: str) -> Any:
    """Parse YAML with PyYAML (requirements-dev.txt)."""
    import yaml

    return yaml.safe_load(text)


class Daemon:
    """A long-running program started by a test: own process group, log file, clean stop."""

    def __init__(
        self, name: str, command: Sequence[str | Path], workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(part) for part in command],
            cwd=workdir,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}")

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `condition`, failing early with the log if the program dies meanwhile."""

        def ready() -> bool:
            self.check_running()
            return condition()

        try:
            wait_for(ready, timeout, what)
        except TimeoutError as error:
            raise RuntimeError(f"{error}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def log_tail(self, chars: int = 6000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self._log.close()


def make_certificate(
    directory: Path, names: Sequence[str] = ("localhost",), ips: Sequence[str] = ("127.0.0.1",)
) -> Path:
    """A self-signed certificate as `fullchain.pem` and `privkey.pem` in `directory`."""
    require("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    san = ",".join([*(f"DNS:{name}" for name in names), *(f"IP:{ip}" for ip in ips)])
    done = run(
        [
            "openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-days", "2", "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
            "-keyout", directory / "privkey.pem", "-out", directory / "fullchain.pem",
        ]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a test certificate for localhost and 127.0.0.1."""
    return make_certificate(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def client_tls(certificate: Path) -> ssl.SSLContext:
    """A TLS client context that trusts the test certificate, and only it."""
    return ssl.create_default_context(cafile=str(certificate / "fullchain.pem"))
