"""Calls between real browsers: headless Chromium with a fake camera and microphone,
against the app served by daphne over PostgreSQL.

alice owns the rooms; bob, carol and dave join them. Each person has a browser context of
their own (their own cookies) and logs in through the login form. What flows is read from
each page's peer connections (`window.audioExchange`, static/js/call.js) with getStats().
"""

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live_server import PASSWORD, AppServer, Person, PostgresDatabase

pytestmark = pytest.mark.browser

DEADLINE = 60.0
PEOPLE = [Person("alice", "Alice A."), Person("bob", "Bob B."), Person("carol", "Carol C."), Person("dave", "Dave D.")]

# Per remote peer: what this page receives from them.
STATS_JS = """async () => {
  const result = {};
  for (const [peerId, pc] of window.audioExchange.peerConnections()) {
    const entry = { connection: pc.connectionState, framesDecoded: 0, audioPackets: 0, inboundVideo: 0 };
    (await pc.getStats()).forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      if (report.kind === "video") {
        entry.inboundVideo += 1;
        entry.framesDecoded += report.framesDecoded ?? 0;
      }
      if (report.kind === "audio") entry.audioPackets += report.packetsReceived ?? 0;
    });
    result[peerId] = entry;
  }
  return result;
}"""

VIDEO_CAPS_JS = """() => [...window.audioExchange.peerConnections().values()].flatMap((pc) =>
  pc.getSenders()
    .filter((sender) => sender.track?.kind === "video")
    .map((sender) => sender.getParameters().encodings[0]?.maxBitrate ?? null))"""

VIDEO_ANYWHERE_JS = """() => {
  const pcs = [...window.audioExchange.peerConnections().values()];
  const sdps = pcs.flatMap((pc) => [pc.localDescription?.sdp ?? "", pc.remoteDescription?.sdp ?? ""]);
  return {
    videoElements: document.querySelectorAll("video").length,
    videoTransceivers: pcs.flatMap((pc) => pc.getTransceivers()).filter((t) => t.receiver.track.kind === "video")
      .length,
    videoInSdp: sdps.some((sdp) => sdp.includes("m=video")),
    videoRequested: window.__mediaRequests.some((constraints) => Boolean(constraints?.video)),
  };
}"""

# Remember what the page asks getUserMedia for (to prove an audio-only room never asks for a
# camera), the `stats` reports it sends, the `error` messages it receives on its sockets and the
# sockets themselves; `window.__unreachable` sends new sockets nowhere (a network that is down).
INSTRUMENT_JS = """
window.__mediaRequests = [];
window.__statsSent = [];
window.__errorsReceived = [];
window.__sockets = [];
const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => {
  window.__mediaRequests.push(constraints);
  return getUserMedia(constraints);
};
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, ...args) {
    super(window.__unreachable ? "ws://127.0.0.1:9/" : url, ...args); // nothing listens on port 9
    window.__sockets.push(this);
    this.addEventListener("message", ({ data }) => {
      const message = JSON.parse(data);
      if (message.type === "error") window.__errorsReceived.push(message);
    });
  }
  send(data) {
    const message = JSON.parse(data);
    if (message.type === "stats") window.__statsSent.push(message);
    super.send(data);
  }
};
"""


# As in a browser that has never been allowed to capture: the page must wait for a click.
PERMISSION_NOT_YET_GIVEN_JS = """
const query = navigator.permissions.query.bind(navigator.permissions);
navigator.permissions.query = async (descriptor) =>
  ["camera", "microphone"].includes(descriptor?.name) ? { state: "prompt", name: descriptor.name } : query(descriptor);
"""


def eventually(check: Callable[[], str | None], timeout: float = DEADLINE) -> None:
    """Poll `check` (None when satisfied, else what is still missing) until it passes or time runs out."""
    deadline = time.monotonic() + timeout
    while (problem := check()) is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"After {timeout:.0f} s, still: {problem}", pytrace=False)
        time.sleep(0.25)


class Caller:
    """One person in their own browser context, on the site served by `server`."""

    def __init__(
        self,
        browser: Browser,
        server: AppServer,
        username: str,
        first_visit: bool = False,
        faulty_network: bool = False,
        device: dict[str, Any] | None = None,
        locale: str = "en-US",  # the browser's language: its Accept-Language and navigator.language
    ) -> None:
        self.name = username
        self.server = server
        # `faulty_network`: the test cuts this page's network by sending its new sockets to a port
        # nothing listens on (`window.__unreachable`). The page's Content-Security-Policy would
        # refuse that address before any network is tried, which is not what a cut network does,
        # so such a page runs without it (tests/test_browser_csp.py checks the policy in a call).
        # `device`: Playwright's context options for another screen (a phone: viewport, has_touch).
        screen = {"viewport": {"width": 1280, "height": 800}} | (device or {})
        self.context = browser.new_context(**screen, bypass_csp=faulty_network, locale=locale)
        self.context.add_init_script(INSTRUMENT_JS)
        self.first_visit = first_visit
        if first_visit:
            self.context.add_init_script(PERMISSION_NOT_YET_GIVEN_JS)
        self.page: Page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        self.peer_id = ""

    def __repr__(self) -> str:
        return self.name

    def log_in(self) -> None:
        self.page.goto(f"{self.server.url}/accounts/login/")
        self.page.fill("input[name=username]", self.name)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(f"{self.server.url}/")

    def join(self, slug: str) -> None:
        self.page.goto(f"{self.server.url}/rooms/{slug}/")
        join = self.page.get_by_role("button", name="Join")
        expect(join).to_be_enabled()  # the call script is listening
        if self.first_visit:
            assert self.media_requests() == [], "nothing is captured before a click"
        join.click()
        self.wait_in_call()
        assert self.media_requests(), "the Join click started the microphone (and camera)"

    def media_requests(self) -> list[dict[str, Any]]:
        return self.page.evaluate("window.__mediaRequests")

    def wait_in_call(self, other_than: str = "") -> None:
        """Wait for a `welcome` (one giving a peer_id other than `other_than`, after a rejoin)."""
        self.page.wait_for_function(
            "(old) => window.audioExchange.state === 'in-call' && window.audioExchange.peerId !== old",
            arg=other_than,
            timeout=DEADLINE * 1000,
        )
        self.peer_id = self.page.evaluate("window.audioExchange.peerId")

    def leave(self) -> None:
        self.page.get_by_role("button", name="Leave").click()
        self.page.wait_for_url(f"{self.server.url}/")

    def stats(self) -> dict[str, dict[str, Any]]:
        return self.page.evaluate(STATS_JS)

    def tile_ids(self) -> list[str]:
        return self.page.eval_on_selector_all("#grid [data-peer-id]", "tiles => tiles.map(t => t.dataset.peerId)")

    def protocol_errors(self) -> list[dict[str, str]]:
        """Errors the server sent, except `unknown_peer`: a signal racing someone's departure."""
        errors = self.page.evaluate("window.__errorsReceived")
        return [error for error in errors if error["code"] != "unknown_peer"]

    def banner(self) -> str:
        return self.page.locator("#call-banner").inner_text()


class Party:
    """The callers of one test; their browser console is printed if the test fails."""

    def __init__(self, browser: Browser, server: AppServer) -> None:
        self.browser = browser
        self.server = server
        self.callers: list[Caller] = []

    def arrive(
        self,
        username: str,
        slug: str,
        first_visit: bool = False,
        faulty_network: bool = False,
        device: dict[str, Any] | None = None,
    ) -> Caller:
        caller = Caller(self.browser, self.server, username, first_visit, faulty_network, device)
        self.callers.append(caller)
        caller.log_in()
        caller.join(slug)
        return caller

    def close(self) -> None:
        for caller in self.callers:
            caller.context.close()


@pytest.fixture(scope="module")
def people(app_server: AppServer) -> list[Person]:
    app_server.create_users(PEOPLE)
    return PEOPLE


def party_on(chromium: Browser, server: AppServer) -> Iterator[Party]:
    party = Party(chromium, server)
    yield party
    for caller in party.callers:
        print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
    party.close()


@pytest.fixture
def party(chromium: Browser, app_server: AppServer, people: list[Person]) -> Iterator[Party]:
    yield from party_on(chromium, app_server)


def new_room(server: AppServer, prefix: str, **options: Any) -> str:
    slug = f"{prefix}-{secrets.token_hex(3)}"
    server.create_room(slug, owner="alice", **options)
    return slug


def everyone_receives(*callers: Caller, video: bool = True, besides: str = "") -> Callable[[], str | None]:
    """Each caller has one connection per other caller, and media arrives on each; `besides`:
    a peer id whose connection may be there too (the recorder's, "server", in a recorded mesh)."""

    def check() -> str | None:
        for caller in callers:
            stats = {peer_id: got for peer_id, got in caller.stats().items() if peer_id != besides}
            expected = {other.peer_id for other in callers if other is not caller}
            if set(stats) != expected:
                return f"{caller} is connected to {sorted(stats)}, expected {sorted(expected)}"
            for other in callers:
                if other is caller:
                    continue
                got = stats[other.peer_id]
                if got["audioPackets"] <= 0 or (video and got["framesDecoded"] <= 0):
                    return f"{caller} receives from {other}: {got}"
        return None

    return check


def frames_keep_coming(*callers: Caller) -> Callable[[], str | None]:
    """Every caller decodes more frames from every other than when this was called."""
    before = {caller.name: caller.stats() for caller in callers}

    def check() -> str | None:
        for caller in callers:
            now = caller.stats()
            for other in callers:
                if other is caller:
                    continue
                was, is_ = before[caller.name][other.peer_id]["framesDecoded"], now[other.peer_id]["framesDecoded"]
                if is_ <= was:
                    return f"{caller} decoded no new frame from {other} ({was} -> {is_})"
        return None

    return check


def video_caps_are(expected: int, *callers: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        for caller in callers:
            caps = caller.page.evaluate(VIDEO_CAPS_JS)
            if not caps or any(cap != expected for cap in caps):
                return f"{caller}'s video senders are capped at {caps}, expected {expected}"
        return None

    return check


def reports_call_quality(caller: Caller) -> Callable[[], str | None]:
    """The browser sends `stats` (docs/protocol.md) with measured numbers over a direct path."""

    def check() -> str | None:
        reports = caller.page.evaluate("window.__statsSent")
        measured = [
            report
            for report in reports
            if report["path"] == "direct" and (report["inbound_kbps"] or 0) > 0 and report["rtt_ms"] is not None
        ]
        return None if measured else f"{caller} sent no complete stats report yet: {reports}"

    return check


def gone(leaver_id: str, *callers: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        for caller in callers:
            if leaver_id in caller.stats() or leaver_id in caller.tile_ids():
                return f"{caller} still has a connection or tile for {leaver_id}"
        return None

    return check


@pytest.mark.timeout(240)
def test_four_people_see_and_hear_each_other_and_bob_leaves(app_server: AppServer, party: Party):
    slug = new_room(app_server, "sync", name="Weekly sync")
    alice, bob, carol = (party.arrive(name, slug) for name in ("alice", "bob", "carol"))

    eventually(everyone_receives(alice, bob, carol))

    # Dave's browser never allowed capture before: his camera starts with his click on Join.
    dave = party.arrive("dave", slug, first_visit=True)
    eventually(everyone_receives(alice, bob, carol, dave))
    # 2.5 Mbps of upload shared by three outgoing videos.
    eventually(video_caps_are(833_333, alice, bob, carol, dave))

    bob_id = bob.peer_id
    bob.leave()

    eventually(gone(bob_id, alice, carol, dave))
    eventually(frames_keep_coming(alice, carol, dave))
    eventually(video_caps_are(1_250_000, alice, carol, dave))
    assert alice.page.locator("#people-count").inner_text() == "3"
    eventually(reports_call_quality(alice))
    assert [caller.protocol_errors() for caller in (alice, bob, carol, dave)] == [[], [], [], []]


@pytest.mark.timeout(180)
def test_an_audio_only_room_carries_no_video_at_all(app_server: AppServer, party: Party):
    slug = new_room(app_server, "radio", name="Radio hour", audio_only=True)
    callers = [party.arrive(name, slug) for name in ("alice", "bob", "carol")]

    eventually(everyone_receives(*callers, video=False))

    for caller in callers:
        assert caller.page.evaluate(VIDEO_ANYWHERE_JS) == {
            "videoElements": 0,
            "videoTransceivers": 0,
            "videoInSdp": False,
            "videoRequested": False,
        }, caller
        assert all(entry["inboundVideo"] == 0 for entry in caller.stats().values())
        assert caller.page.get_by_role("button", name="Camera").count() == 0
        assert caller.protocol_errors() == []


@pytest.mark.timeout(180)
def test_carol_is_told_when_the_room_is_full(app_server: AppServer, party: Party):
    slug = new_room(app_server, "pair", name="Pair programming", max_participants=2)
    party.arrive("alice", slug)
    party.arrive("bob", slug)

    carol = Caller(party.browser, app_server, "carol")
    party.callers.append(carol)
    carol.log_in()
    carol.page.goto(f"{app_server.url}/rooms/{slug}/")
    expect(carol.page.locator("#room-full")).to_contain_text("This room is full right now (2 people)")
    carol.page.get_by_role("button", name="Join").click()

    carol.page.wait_for_function("() => window.audioExchange.state === 'ended'", timeout=DEADLINE * 1000)
    assert "This room is full (2 people)" in carol.banner()
    assert carol.page.get_by_role("link", name="Back to the lobby").get_attribute("href") == "/"
    assert carol.page.evaluate("window.audioExchange.peerConnections().size") == 0


def another_app(
    app_server: AppServer, database: PostgresDatabase, name: str, env: dict[str, str] | None = None
) -> Iterator[AppServer]:
    """An app process of its own with `env`, over the database `app_server` migrated (and its
    static files; the `people` fixture's accounts are there too); closed at the end."""
    server = AppServer(database.url, app_server.static_root, env=env, name=name)
    server.start()
    yield server
    server.close()


@pytest.fixture
def restartable_server(app_server: AppServer, live_database: PostgresDatabase) -> Iterator[AppServer]:
    """A second app process over the same database, for this test alone to restart."""
    yield from another_app(app_server, live_database, "restartable app")


@pytest.fixture
def restartable_party(chromium: Browser, restartable_server: AppServer, people: list[Person]) -> Iterator[Party]:
    """Callers on `restartable_server`, which the test stops and starts."""
    yield from party_on(chromium, restartable_server)


@pytest.fixture
def short_grace_server(app_server: AppServer, live_database: PostgresDatabase) -> Iterator[AppServer]:
    """An app process whose resume tokens, and so the others' grace, last 5 s."""
    yield from another_app(app_server, live_database, "short-grace app", {"SIGNALING_RESUME_SECONDS": "5"})


# Marks each page's RTCPeerConnections, to tell afterwards whether they are the same objects.
TAG_CONNECTIONS_JS = """(tag) => {
  for (const [peerId, pc] of window.audioExchange.peerConnections()) pc.__tag = `${tag}:${peerId}`;
}"""
CONNECTION_TAGS_JS = """() => Object.fromEntries(
  [...window.audioExchange.peerConnections()].map(([peerId, pc]) => [peerId, pc.__tag ?? null]))"""
# Every ICE restart changes our ufrag: the ufrags this page has offered or answered with so far.
LOCAL_UFRAGS_JS = """() => [...window.audioExchange.peerConnections().values()].map((pc) =>
  (pc.localDescription?.sdp.match(/a=ice-ufrag:(\\S+)/) ?? [])[1] ?? null)"""


@pytest.mark.timeout(180)
def test_a_call_resumes_after_a_server_restart_with_the_same_ids_and_connections(
    restartable_server: AppServer, chromium: Browser, people
):
    server = restartable_server
    party = Party(chromium, server)
    try:
        slug = new_room(server, "resilient")
        alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
        eventually(everyone_receives(alice, bob))
        marks = mark_call(alice, bob)

        server.stop()  # SIGTERM: a short drain, then every socket is closed with 1001
        alice.page.wait_for_function("() => window.audioExchange.state === 'reconnecting'", timeout=DEADLINE * 1000)
        server.start()
        for caller in (alice, bob):
            caller.page.wait_for_function("() => window.audioExchange.state === 'in-call'", timeout=DEADLINE * 1000)

        assert_resumed(marks, alice, bob)
        eventually(lambda: None if alice.tile_ids() == ["local", bob.peer_id] else f"alice's tiles: {alice.tile_ids()}")
        assert "reconnecting" not in alice.page.locator(f'#grid [data-peer-id="{bob.peer_id}"]').inner_text()
        assert alice.page.evaluate("performance.getEntriesByType('navigation').length") == 1, "no reload"
    finally:
        for caller in party.callers:
            print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
        party.close()


# As if the page's socket died unnoticed by the server: the page sees a close (1006) while the
# server still holds the old socket open, until the page comes back under the same peer id.
DROP_SOCKET_UNNOTICED_JS = """() => window.__sockets.at(-1).dispatchEvent(new CloseEvent("close", { code: 1006 }))"""


@pytest.mark.timeout(180)
def test_a_page_whose_socket_dropped_resumes_without_a_reload(app_server: AppServer, party: Party):
    slug = new_room(app_server, "flaky")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))
    marks = mark_call(alice, bob)

    bob.page.evaluate(DROP_SOCKET_UNNOTICED_JS)
    bob.page.wait_for_function("() => window.__sockets.length === 2 && window.audioExchange.state === 'in-call'")

    assert_resumed(marks, alice, bob)
    # The server retired bob's old socket (4408) without ending his call.
    bob.page.wait_for_function("() => window.__sockets[0].readyState === WebSocket.CLOSED")
    assert bob.page.evaluate("window.audioExchange.state") == "in-call"
    assert alice.protocol_errors() == []
    # The old socket was told, but the page no longer listens to it.
    assert [error["code"] for error in bob.protocol_errors()] == ["resumed_elsewhere"]
    assert "newer connection" not in bob.banner()


@pytest.mark.timeout(180)
def test_the_others_hold_a_dropped_peer_as_reconnecting_until_it_returns(app_server: AppServer, party: Party):
    slug = new_room(app_server, "held")
    alice, bob = party.arrive("alice", slug), party.arrive("bob", slug, faulty_network=True)
    eventually(everyone_receives(alice, bob))
    alice.page.evaluate(TAG_CONNECTIONS_JS, alice.name)
    bob_tile = alice.page.locator(f'#grid [data-peer-id="{bob.peer_id}"] .badge.state')

    # bob's network drops: his socket dies (the server sees an abnormal close) and he cannot reconnect yet.
    bob.page.evaluate("window.__unreachable = true")
    bob.page.evaluate(DROP_SOCKET_UNNOTICED_JS)
    bob.page.evaluate("window.__sockets[0].close(3000)")
    expect(bob_tile).to_have_text("reconnecting…")
    assert alice.page.evaluate(CONNECTION_TAGS_JS) == {bob.peer_id: f"alice:{bob.peer_id}"}

    bob.page.evaluate("window.__unreachable = false")
    bob.page.wait_for_function("() => window.audioExchange.state === 'in-call'", timeout=DEADLINE * 1000)

    assert bob.page.evaluate("window.audioExchange.peerId") == bob.peer_id
    expect(bob_tile).to_be_hidden()  # connected again: no badge
    assert alice.page.evaluate(CONNECTION_TAGS_JS) == {bob.peer_id: f"alice:{bob.peer_id}"}
    eventually(frames_keep_coming(alice, bob))


Marks = dict[str, tuple[str, list[str | None]]]


def mark_call(*callers: Caller) -> Marks:
    """Tag each page's peer connections; note its peer id and ICE ufrags, to compare after a resume."""
    for caller in callers:
        caller.page.evaluate(TAG_CONNECTIONS_JS, caller.name)
    return {caller.name: (caller.peer_id, caller.page.evaluate(LOCAL_UFRAGS_JS)) for caller in callers}


def assert_resumed(marks: Marks, *callers: Caller) -> None:
    """The same peer ids over the very same peer connections (no reload), ICE restarted, video decoding."""
    for caller in callers:
        assert caller.page.evaluate("window.audioExchange.peerId") == marks[caller.name][0], caller
        expected = {other.peer_id: f"{caller.name}:{other.peer_id}" for other in callers if other is not caller}
        assert caller.page.evaluate(CONNECTION_TAGS_JS) == expected, caller
    eventually(ice_restarted(marks, *callers))
    eventually(frames_keep_coming(*callers))


@pytest.mark.timeout(180)
def test_a_peer_away_longer_than_the_grace_is_dropped_and_comes_back_as_new(
    short_grace_server: AppServer, chromium: Browser, people
):
    party = Party(chromium, short_grace_server)
    try:
        slug = new_room(short_grace_server, "patchy")
        alice, bob = party.arrive("alice", slug), party.arrive("bob", slug, faulty_network=True)
        eventually(everyone_receives(alice, bob))
        old_id = bob.peer_id

        bob.page.evaluate("window.__unreachable = true")
        bob.page.evaluate(DROP_SOCKET_UNNOTICED_JS)
        bob.page.evaluate("window.__sockets[0].close(3000)")
        expect(alice.page.locator(f'#grid [data-peer-id="{old_id}"] .badge.state')).to_have_text("reconnecting…")
        eventually(gone(old_id, alice), timeout=15)  # 5 s of grace, then the connection is closed

        # Back after his token expired (it was given more than 5 s ago): a new peer id, new
        # connections, a working call.
        bob.page.evaluate("window.__unreachable = false")
        bob.wait_in_call(other_than=old_id)
        eventually(everyone_receives(alice, bob))
    finally:
        for caller in party.callers:
            print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
        party.close()


def ice_restarted(marks: Marks, *callers: Caller) -> Callable[[], str | None]:
    """Each caller's connections now use ICE credentials other than those marked (an ICE restart)."""

    def check() -> str | None:
        for caller in callers:
            now = caller.page.evaluate(LOCAL_UFRAGS_JS)
            if set(now) & set(marks[caller.name][1]):
                return f"{caller} still uses the ICE ufrags {now}"
        return None

    return check
