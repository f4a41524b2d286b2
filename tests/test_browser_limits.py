"""The resource limits as people see them in real browsers: a recording that reaches
RECORDING_MAX_SECONDS stops by itself, and the call page says why."""

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.live_server import AppServer, PostgresDatabase
from tests.test_browser_call import DEADLINE, Party, eventually
from tests.test_browser_recording import COMPOSITE_DEADLINE, download_link, recording_app, recording_indicator

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def short_recordings_server(
    app_server: AppServer, live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    yield from recording_app(app_server, live_database, tmp_path_factory.mktemp("media"), RECORDING_MAX_SECONDS="4")


@pytest.fixture
def party(chromium: Browser, short_recordings_server: AppServer) -> Iterator[Party]:
    party = Party(chromium, short_recordings_server)
    yield party
    for caller in party.callers:
        print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
    party.close()


@pytest.mark.timeout(150)
def test_a_recording_stops_at_its_time_limit_and_the_call_page_says_why(
    short_recordings_server: AppServer, party: Party
) -> None:
    slug = f"limited-{secrets.token_hex(3)}"
    short_recordings_server.create_room(slug, owner="alice", name="Limited")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)

    alice.page.get_by_role("button", name="Start recording").click()
    for caller in (alice, bob):
        expect(recording_indicator(caller)).to_be_visible(timeout=DEADLINE * 1000)

    for caller in (alice, bob):
        expect(recording_indicator(caller)).to_be_hidden(timeout=DEADLINE * 1000)
        expect(caller.page.locator("#call-banner")).to_contain_text(
            "Recording stopped: it reached 4 seconds, the longest a recording may last here."
        )
    expect(alice.page.get_by_role("button", name="Start recording")).to_be_visible()
    # Stopped as the owner's stop would: the recording is there to download.
    eventually(
        download_link(alice, f"{short_recordings_server.url}/rooms/{slug}/recordings/"), timeout=COMPOSITE_DEADLINE
    )
    assert [caller.protocol_errors() for caller in (alice, bob)] == [[], []]
