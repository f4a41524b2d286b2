"""Safe defaults (issue 12): what a deployment gets when it sets nothing.

Each test loads the real settings in a fresh interpreter with a given environment, as
daphne or manage.py would, or talks to the real ASGI application.
"""

import os
import subprocess
import sys

import pytest

from tests.live_server import ROOT

_FROM_TEST_PROCESS = ("DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "ALLOW_DEV_SECRET_KEY")


def load_settings(
    code: str = "from audioexchange import settings; print('DEBUG', settings.DEBUG)", **env: str
) -> subprocess.CompletedProcess[str]:
    """Import audioexchange.settings in a new process with `env` on top of a clean environment
    (and run `code`, which prints what the test reads)."""
    clean = {key: value for key, value in os.environ.items() if key not in _FROM_TEST_PROCESS}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_without_any_setting_debug_is_off_and_the_app_refuses_to_start_without_a_key():
    done = load_settings()

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "Set the SECRET_KEY environment variable" in done.stderr


@pytest.mark.parametrize("weak", ["dev-insecure-key-change-me", "django-insecure-abc", "short-key", ""])
def test_a_placeholder_or_short_key_is_not_accepted_with_debug_off(weak: str):
    done = load_settings(SECRET_KEY=weak)

    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_a_real_key_starts_with_debug_off():
    done = load_settings(SECRET_KEY="k" * 20 + "-a-real-random-key-of-some-length")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DEBUG False"


def test_debug_on_is_only_by_choice():
    done = load_settings(DEBUG="1")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DEBUG True"


def test_forwarded_proto_is_ignored_unless_behind_a_proxy(settings):
    """mallory sends `X-Forwarded-Proto: https` straight to the app: it stays plain HTTP."""
    from django.http import HttpRequest

    request = HttpRequest()
    request.META = {"HTTP_X_FORWARDED_PROTO": "https", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80"}
    assert settings.SECURE_PROXY_SSL_HEADER is None
    assert request.is_secure() is False

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # what BEHIND_PROXY=1 sets
    assert request.is_secure() is True


def test_behind_proxy_turns_on_the_forwarded_headers():
    done = subprocess.run(
        [sys.executable, "-c", "from audioexchange import settings; print(settings.SECURE_PROXY_SSL_HEADER)"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1", "BEHIND_PROXY": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", done.stderr


def origins_of_the_application(**env: str) -> str:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'audioexchange.settings'\n"
        "from audioexchange.asgi import application\n"
        "print(application.application_mapping['websocket'].allowed_origins)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "audioexchange.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_signaling_origins_default_to_the_allowed_hosts_and_have_their_own_list():
    assert origins_of_the_application(ALLOWED_HOSTS="call.example.org") == "['call.example.org']"
    own = origins_of_the_application(
        ALLOWED_HOSTS="call.example.org", SIGNALING_ALLOWED_ORIGINS="https://call.example.org"
    )
    assert own == "['https://call.example.org']"


def test_make_run_keeps_one_private_key_across_runs(tmp_path):
    """`make run` makes its SECRET_KEY once and reuses it, so logins survive a restart."""
    key_file = tmp_path / "secret_key"
    keys = []
    for _ in range(2):
        done = subprocess.run(
            ["make", "-s", str(key_file), f"SECRET_KEY_FILE={key_file}"], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        keys.append(key_file.read_text().strip())

    assert len(keys[0]) >= 50
    assert keys[1] == keys[0], "the second run kept the first key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
