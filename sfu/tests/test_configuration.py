"""Janus's configuration: the render step refuses unsafe values, settings refuse a half setup."""

import os
import subprocess
import sys

import pytest

from tests.live_server import ROOT

RENDER = ROOT / "deploy" / "janus" / "render.sh"
GOOD = {"JANUS_API_SECRET": "a" * 32, "JANUS_ADMIN_KEY": "b" * 32, "JANUS_ADMIN_SECRET": "c" * 32}


def render(tmp_path, **environment: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("JANUS_")}
    return subprocess.run(
        [str(RENDER), str(tmp_path / "config")],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("environment", "refusal"),
    [
        ({**GOOD, "JANUS_API_SECRET": ""}, "JANUS_API_SECRET is not set: generate one with `openssl rand -hex 32`"),
        ({**GOOD, "JANUS_ADMIN_KEY": "supersecret"}, "JANUS_ADMIN_KEY must be 32 to 128 characters long"),
        ({**GOOD, "JANUS_ADMIN_SECRET": 'x" ' + "c" * 32}, "JANUS_ADMIN_SECRET may only contain the characters"),
        ({**GOOD, "JANUS_WS_IP": "0.0.0.0"}, "would expose the API on every interface"),  # noqa: S104
        ({**GOOD, "JANUS_RTP_PORT_RANGE": "40000-20000"}, "last port=20000 must be between 40000 and 65535"),
    ],
)
def test_render_refuses_missing_weak_or_unsafe_values_and_says_what_to_do(tmp_path, environment, refusal):
    done = render(tmp_path, **environment)

    assert done.returncode == 64
    assert refusal in done.stderr
    assert not (tmp_path / "config" / "janus.jcfg").exists()


def test_render_writes_private_files_with_every_placeholder_filled(tmp_path):
    done = render(tmp_path, **GOOD, JANUS_NAT_1_1_MAPPING="203.0.113.10")

    assert done.returncode == 0, done.stderr
    config = tmp_path / "config"
    assert oct(config.stat().st_mode & 0o777) == "0o700"
    for name in ("janus.jcfg", "janus.transport.websockets.jcfg", "janus.plugin.videoroom.jcfg"):
        assert oct((config / name).stat().st_mode & 0o777) == "0o600"
        assert "@" not in (config / name).read_text().replace("# placeholders (NAME between at signs)", "")
    core = (config / "janus.jcfg").read_text()
    assert 'api_secret = "' + "a" * 32 + '"' in core
    assert 'nat_1_1_mapping = "203.0.113.10"' in core
    assert f'"{config}"' in core, "Janus may not write recordings into its own configuration"
    assert "lock_rtp_forward = true" in (config / "janus.plugin.videoroom.jcfg").read_text()


def start_django(**variables: str) -> subprocess.CompletedProcess[str]:
    """Load the production settings with these environment variables, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, **variables, "DJANGO_SETTINGS_MODULE": "audioexchange.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_janus_urls_without_their_secrets_are_refused_at_startup():
    done = start_django(JANUS_URLS="ws://127.0.0.1:8188", JANUS_API_SECRET="", JANUS_ADMIN_KEY="")

    assert done.returncode != 0
    assert "JANUS_URLS is set but JANUS_API_SECRET or JANUS_ADMIN_KEY is empty" in done.stderr


def test_browser_networks_that_are_not_networks_are_refused_at_startup():
    done = start_django(JANUS_BROWSER_NETWORKS="10.0.0.0/8,the office")

    assert done.returncode != 0
    assert "JANUS_BROWSER_NETWORKS must be comma-separated networks, e.g. 10.0.0.0/8" in done.stderr
