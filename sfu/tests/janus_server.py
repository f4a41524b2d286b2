"""Debian's `janus`, started by a test from the shipped deploy/janus configuration.

`JanusServer` renders the templates with `deploy/janus/render.sh` (test ports, random secrets,
a temporary folder), starts `/usr/bin/janus -C <dir>/janus.jcfg -F <dir>` in its own process
group, waits until its WebSocket API answers `info`, and can stop, kill, restart, pause and
resume it. The program comes from `scripts/install-deploy-tools.sh`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Self

import pytest
from websockets.sync.client import connect

from tests.live_server import ROOT, free_port, wait_for

RENDER = ROOT / "deploy" / "janus" / "render.sh"
JANUS = "/usr/bin/janus"


class JanusServer:
    """One Janus on 127.0.0.1 with the shipped configuration and fresh secrets."""

    def __init__(self, workdir: Path, session_timeout: int = 60) -> None:
        if not os.access(JANUS, os.X_OK) or shutil.which("janus-pp-rec") is None:
            pytest.fail("janus not installed: run `sudo scripts/install-deploy-tools.sh` (Debian's janus, janus-tools)")
        self.workdir = workdir
        self.config_dir = workdir / "config"
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.api_secret = secrets.token_hex(16)
        self.admin_key = secrets.token_hex(16)
        rtp_start = 20000 + secrets.randbelow(400) * 100
        self.environment = {
            "JANUS_API_SECRET": self.api_secret,
            "JANUS_ADMIN_KEY": self.admin_key,
            "JANUS_ADMIN_SECRET": secrets.token_hex(16),
            "JANUS_WS_PORT": str(self.port),
            "JANUS_RTP_PORT_RANGE": f"{rtp_start}-{rtp_start + 99}",
            "JANUS_SESSION_TIMEOUT": str(session_timeout),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "janus.log"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def render(self) -> subprocess.CompletedProcess[str]:
        """Run the shipped render step with this server's environment."""
        return subprocess.run(
            [str(RENDER), str(self.config_dir)],
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def start(self) -> None:
        """Render the configuration, start Janus and wait until it answers on its port."""
        rendered = self.render()
        assert rendered.returncode == 0, rendered.stderr
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [JANUS, "-C", str(self.config_dir / "janus.jcfg"), "-F", str(self.config_dir)],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for(self.answers, timeout=30, what=f"janus on port {self.port}")
        except TimeoutError as error:
            raise RuntimeError(f"{error}\n--- janus log ---\n{self.log_tail()}") from None

    def answers(self) -> bool:
        """True once the WebSocket API replies to `info` (which needs no secret)."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"janus exited with code {self.process.returncode}:\n{self.log_tail()}")
        try:
            with connect(self.url, subprotocols=["janus-protocol"], open_timeout=1) as ws:  # type: ignore[list-item]
                ws.send(json.dumps({"janus": "info", "transaction": "ready"}))
                return json.loads(ws.recv(timeout=1)).get("janus") == "server_info"
        except (OSError, TimeoutError):
            return False

    def request_without_client(self, message: dict[str, object]) -> dict[str, object]:
        """One raw request on a fresh socket (as someone without our client would send it)."""
        with connect(self.url, subprotocols=["janus-protocol"], open_timeout=5) as ws:  # type: ignore[list-item]
            ws.send(json.dumps(message))
            reply: dict[str, object] = json.loads(ws.recv(timeout=5))
            return reply

    def send_signal(self, signum: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop Janus (SIGKILL as `kill -9` does, or SIGTERM), resuming it first if paused."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGCONT)
        os.killpg(self.process.pid, signum)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def restart(self, signum: int = signal.SIGKILL) -> None:
        """Stop Janus and start it again on the same port with the same secrets."""
        self.stop(signum)
        self.start()

    def listening_sockets(self) -> list[str]:
        """`address:port` of every TCP socket the Janus process listens on (from `ss`)."""
        assert self.process is not None
        done = subprocess.run(["ss", "-H", "-ltnp"], capture_output=True, text=True, timeout=10, check=True)
        return [line.split()[3] for line in done.stdout.splitlines() if f"pid={self.process.pid}," in line]

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""
