"""Server-side recording seen from real browsers: headless Chromium against the app served by
daphne, whose embedded media worker (aiortc) joins the call as the peer "server".

alice owns the room and records it; bob is in the call with her; carol arrives while it is
being recorded. What the worker receives is read from each page's connection to "server"
(outbound-rtp in getStats()); the result is fetched from alice's recordings page.
"""

import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, expect

from mediaworker.tests.conftest import stream_duration
from tests.live_server import AppServer, PostgresDatabase
from tests.test_browser_call import DEADLINE, PEOPLE, Caller, Party, eventually, everyone_receives

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERVER_PEER_ID = "server"
COMPOSITE_DEADLINE = 90.0

# What this page sends to the recorder, per kind.
SERVER_STATS_JS = """async (serverId) => {
  const pc = window.audioExchange.peerConnections().get(serverId);
  if (!pc) return null;
  const sent = { audio: 0, video: 0 };
  (await pc.getStats()).forEach((report) => {
    if (report.type === "outbound-rtp") sent[report.kind] += report.packetsSent ?? 0;
  });
  return { connection: pc.connectionState, sent };
}"""


def recording_app(
    app_server: AppServer, database: PostgresDatabase, media_root: Path, **env: str
) -> Iterator[AppServer]:
    """An app process of its own whose recordings go to `media_root`, not the checkout.

    `app_server` has already migrated the database and collected the static files."""
    server = AppServer(
        database.url, app_server.static_root, env={"MEDIA_ROOT": str(media_root), **env}, name="recording app"
    )
    server.create_users(PEOPLE)
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def recording_server(
    app_server: AppServer, live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    yield from recording_app(app_server, live_database, tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def auto_recording_server(
    app_server: AppServer, live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """As `recording_server`, and its `auto` rooms move to the relay above two people."""
    yield from recording_app(app_server, live_database, tmp_path_factory.mktemp("media"), RELAY_AUTO_ABOVE_VIDEO="2")


@pytest.fixture
def party(chromium: Browser, recording_server: AppServer) -> Iterator[Party]:
    party = Party(chromium, recording_server)
    yield party
    for caller in party.callers:
        print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
    party.close()


def recording_indicator(caller: Caller) -> Locator:
    return caller.page.locator(".recording-indicator")


def sends_to_recorder(*callers: Caller) -> Callable[[], str | None]:
    """Each caller is connected to "server" and has sent it audio and video packets."""

    def check() -> str | None:
        for caller in callers:
            got = caller.page.evaluate(SERVER_STATS_JS, SERVER_PEER_ID)
            if got is None:
                return f"{caller} has no connection to {SERVER_PEER_ID!r}"
            if got["connection"] != "connected" or got["sent"]["audio"] <= 0 or got["sent"]["video"] <= 0:
                return f"{caller} -> {SERVER_PEER_ID}: {got}"
        return None

    return check


def recorder_gone(*callers: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        for caller in callers:
            got = caller.page.evaluate(SERVER_STATS_JS, SERVER_PEER_ID)
            if got is not None and got["connection"] != "closed":
                return f"{caller} still has a live connection to {SERVER_PEER_ID!r}: {got}"
        return None

    return check


def download_link(owner: Caller, list_url: str) -> Callable[[], str | None]:
    """The owner's recordings page (reloaded on each try) offers a download: the composite is ready."""

    def check() -> str | None:
        owner.page.goto(list_url)
        links = owner.page.get_by_role("link", name="Download")
        if links.count() == 0:
            return f"no Download link yet; the page says: {owner.page.locator('main').inner_text()!r}"
        return None

    return check


@pytest.mark.timeout(120)
def test_alice_records_a_call_with_bob_and_only_she_can_download_it(recording_server: AppServer, party: Party):
    server = recording_server
    slug = f"recorded-{secrets.token_hex(3)}"
    server.create_room(slug, owner="alice", name="Recorded sync")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)

    expect(bob.page.get_by_role("button", name="Start recording")).to_have_count(0)
    for caller in (alice, bob):
        expect(recording_indicator(caller)).to_be_hidden()

    alice.page.get_by_role("button", name="Start recording").click()

    for caller in (alice, bob):
        expect(recording_indicator(caller)).to_be_visible(timeout=DEADLINE * 1000)
        expect(recording_indicator(caller)).to_contain_text(re.compile("recording", re.IGNORECASE))
    expect(recording_indicator(bob)).to_contain_text("Alice A.")  # who started it
    expect(recording_indicator(bob).locator(".rec-badge")).to_have_text("REC")
    rec_colour = (
        recording_indicator(bob).locator(".rec-badge").evaluate("(badge) => getComputedStyle(badge).backgroundColor")
    )
    assert rec_colour == "rgb(180, 35, 24)", f"a red REC badge, not {rec_colour}"
    expect(bob.page.locator("#notices")).to_contain_text("Alice A. started recording")
    expect(alice.page.get_by_role("button", name="Stop recording")).to_be_visible()
    expect(bob.page.get_by_role("button", name="Stop recording")).to_have_count(0)
    eventually(sends_to_recorder(alice, bob))
    for caller in (alice, bob):
        assert SERVER_PEER_ID not in caller.tile_ids(), f"{caller} shows a tile for the recorder"

    carol = Caller(party.browser, server, "carol")
    party.callers.append(carol)
    carol.log_in()
    carol.page.goto(f"{server.url}/rooms/{slug}/")
    expect(carol.page.get_by_text("This call is being recorded")).to_be_visible()
    assert carol.page.evaluate("window.audioExchange.state") == "prejoin"

    alice.page.get_by_role("button", name="Stop recording").click()

    for caller in (alice, bob):
        expect(recording_indicator(caller)).to_be_hidden(timeout=DEADLINE * 1000)
    expect(alice.page.get_by_role("button", name="Start recording")).to_be_visible()
    expect(bob.page.locator("#notices")).to_contain_text("Recording stopped")
    eventually(recorder_gone(alice, bob))

    list_url = f"{server.url}/rooms/{slug}/recordings/"
    eventually(download_link(alice, list_url), timeout=COMPOSITE_DEADLINE)
    href = alice.page.get_by_role("link", name="Download").first.get_attribute("href")
    assert href, "the Download link has an address"
    file_url = f"{server.url}{href}"
    download = alice.page.request.get(file_url)
    assert download.status == 200, download.status
    body = download.body()
    assert len(body) > 0, "the recording is not empty"
    assert_is_media(body)

    for url in (list_url, file_url):
        assert bob.page.request.get(url).status == 404, url
    assert [caller.protocol_errors() for caller in (alice, bob)] == [[], []]


def assert_is_media(body: bytes) -> None:
    """The download is a real WebM (Matroska) file, as a video room's composite is, not an error page."""
    assert body[:4] == b"\x1a\x45\xdf\xa3", f"not a WebM file: {body[:32]!r}"


# Frames each page decodes on its one connection, to the relay ("server").
RELAY_DECODED_JS = """async (serverId) => {
  const pc = window.audioExchange.peerConnections().get(serverId);
  if (!pc) return null;
  const decoded = [];
  (await pc.getStats()).forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") decoded.push(report.framesDecoded ?? 0);
  });
  return { connection: pc.connectionState, decoded, peers: [...window.audioExchange.peerConnections().keys()] };
}"""
RECORDED_SECONDS = 8.0


def relayed(*callers: Caller) -> Callable[[], str | None]:
    """Each page's one connection is to the relay, up, and decodes the other's video."""

    def check() -> str | None:
        for caller in callers:
            got = caller.page.evaluate(RELAY_DECODED_JS, SERVER_PEER_ID)
            if got is None or got["peers"] != [SERVER_PEER_ID] or got["connection"] != "connected":
                return f"{caller}: {got}"
            if not any(count > 0 for count in got["decoded"]):
                return f"{caller} decodes no video from the relay: {got}"
        return None

    return check


def composite_streams_last(owner: Caller, server: AppServer, slug: str, seconds: float, tmp_path: Path) -> None:
    """The owner's recordings page offers the composite; its audio and video last `seconds`
    (within 1.5 s: the clicks' round trips on either side)."""
    list_url = f"{server.url}/rooms/{slug}/recordings/"
    eventually(download_link(owner, list_url), timeout=COMPOSITE_DEADLINE)
    href = owner.page.get_by_role("link", name="Download").first.get_attribute("href")
    download = owner.page.request.get(f"{server.url}{href}")
    assert download.status == 200, download.status
    composite = tmp_path / "composite.webm"
    composite.write_bytes(download.body())
    for kind in ("audio", "video"):
        length = stream_duration(composite, kind)
        assert abs(length - seconds) < 1.5, (kind, length, seconds)


def alice_and_bob_in_a_new_room(party: Party, mode: str) -> tuple[str, Caller, Caller]:
    """A room of `mode` that alice owns, and alice and bob in it."""
    slug = f"{mode}-recorded-{secrets.token_hex(3)}"
    party.server.create_room(slug, owner="alice", name=f"Recorded {mode}", mode=mode)
    return slug, party.arrive("alice", slug), party.arrive("bob", slug)


@pytest.mark.timeout(180)
def test_alice_records_a_relay_room_and_its_composite_lasts_as_long_as_the_recording(
    recording_server: AppServer, party: Party, tmp_path: Path
) -> None:
    server = recording_server
    slug, alice, bob = alice_and_bob_in_a_new_room(party, "relay")
    eventually(relayed(alice, bob))

    alice.page.get_by_role("button", name="Start recording").click()
    for caller in (alice, bob):
        expect(recording_indicator(caller)).to_be_visible(timeout=DEADLINE * 1000)
    started = time.monotonic()
    # A recording of a known length; the call goes on through the relay meanwhile.
    alice.page.wait_for_timeout(RECORDED_SECONDS * 1000)
    alice.page.get_by_role("button", name="Stop recording").click()
    expect(recording_indicator(bob)).to_be_hidden(timeout=DEADLINE * 1000)
    recorded = time.monotonic() - started
    eventually(relayed(alice, bob))  # stopping the recording left the relay alone

    composite_streams_last(alice, server, slug, recorded, tmp_path)
    assert [caller.protocol_errors() for caller in (alice, bob)] == [[], []]


@pytest.mark.timeout(240)
def test_a_recording_goes_on_while_an_auto_room_moves_to_the_relay_and_back(
    auto_recording_server: AppServer, chromium: Browser, tmp_path: Path
) -> None:
    server = auto_recording_server
    party = Party(chromium, server)
    try:
        slug, alice, bob = alice_and_bob_in_a_new_room(party, "auto")
        eventually(everyone_receives(alice, bob))  # two people: a mesh
        alice.page.get_by_role("button", name="Start recording").click()
        expect(recording_indicator(bob)).to_be_visible(timeout=DEADLINE * 1000)
        started = time.monotonic()
        eventually(sends_to_recorder(alice, bob))  # the recorder's own connection, in the mesh

        carol = party.arrive("carol", slug)  # three: the relay, whose uploads are recorded
        eventually(relayed(alice, bob, carol))
        carol.leave()  # two again: a mesh, and the recorder connects anew
        # Each page now holds two connections: to the other, and to the recorder ("server").
        eventually(everyone_receives(alice, bob, besides=SERVER_PEER_ID))
        eventually(sends_to_recorder(alice, bob))

        alice.page.get_by_role("button", name="Stop recording").click()
        expect(recording_indicator(bob)).to_be_hidden(timeout=DEADLINE * 1000)
        recorded = time.monotonic() - started
        composite_streams_last(alice, server, slug, recorded, tmp_path)
        assert [caller.protocol_errors() for caller in (alice, bob)] == [[], []]
    finally:
        for caller in party.callers:
            print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
        party.close()
