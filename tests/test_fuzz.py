"""The protocol fuzzer's short mode (`python -m bench.fuzz --short`) against a live daphne:
10,000 generated frames, and not one crashes a consumer or goes unanswered."""

import pytest

from bench.fuzz import SERVER_ENV, fuzz_server, report
from tests.live_server import AppServer, PostgresDatabase

pytestmark = pytest.mark.slow

SHORT = 10_000


@pytest.mark.timeout(180)
def test_ten_thousand_garbage_frames_crash_nothing_and_alice_and_bob_still_talk(
    app_server: AppServer, live_database: PostgresDatabase
) -> None:
    server = AppServer(live_database.url, app_server.static_root, env=SERVER_ENV, name="fuzzed app")

    figures = fuzz_server(server, SHORT, seconds=90)
    print(report(figures, SHORT))

    assert figures.frames >= SHORT
    assert figures.closes[1011] == 0, "a consumer crashed"
    assert figures.tracebacks == 0, figures.problems[-1:]
    assert figures.answered_as_expected == figures.frames, figures.problems[:5]
    assert set(figures.closes) <= {1006, 4408}, figures.closes  # asked for by the frame (docs/protocol.md)
    assert figures.relays_after, "after the fuzzing, bob's offer reached alice"
    assert figures.failures(SHORT) == []
