"""Browsers against the real relay: coturn with the shipped config, the app handing out TURN
REST credentials, and headless Chromium (fake camera and microphone) on both ends.

Everything runs on loopback, which the shipped coturn config refuses as a peer; the
test-only override tests/deploy/turnserver-allow-loopback.conf opens 127.0.0.1, and only it.
The app offers no STUN, so the only way between two browsers forced to relay candidates is
an allocation on this coturn.

alice owns the rooms and bob joins them.
"""

import contextlib
import os
import re
import secrets
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.deploy.test_turn import SECRET, TurnServer, start_turn
from tests.live_server import AppServer, Person, PostgresDatabase
from tests.test_browser_call import Caller, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
PEOPLE = [Person("alice", "Alice A."), Person("bob", "Bob B.")]
# Longer than netcheck.js's PROBE_TIMEOUT_MS, so a probe that hangs still ends in a verdict.
VERDICT_TIMEOUT_MS = 20_000

# TEST ONLY: mesh.js has no switch for iceTransportPolicy, so every RTCPeerConnection the
# page creates (the mesh's and the network check's) is made to gather relay candidates only,
# as a browser behind a firewall that lets nothing but the relay through would end up.
FORCE_RELAY_JS = """
const NativeRTCPeerConnection = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativeRTCPeerConnection {
  constructor(config = {}, ...rest) {
    super({ ...config, iceTransportPolicy: "relay" }, ...rest);
  }
};
"""

# Per remote peer: video decoded, and the candidate types of the pair ICE selected.
PATH_STATS_JS = """async () => {
  const result = {};
  for (const [peerId, pc] of window.audioExchange.peerConnections()) {
    const reports = new Map();
    (await pc.getStats()).forEach((report) => reports.set(report.id, report));
    const entry = {
      connection: pc.connectionState, policy: pc.getConfiguration().iceTransportPolicy,
      framesDecoded: 0, local: null, remote: null, relayedFrom: null,
    };
    for (const report of reports.values()) {
      if (report.type === "inbound-rtp" && report.kind === "video") entry.framesDecoded += report.framesDecoded ?? 0;
      if (report.type !== "transport" || !report.selectedCandidatePairId) continue;
      const pair = reports.get(report.selectedCandidatePairId);
      const local = reports.get(pair?.localCandidateId);
      entry.local = local?.candidateType ?? null;
      entry.remote = reports.get(pair?.remoteCandidateId)?.candidateType ?? null;
      entry.relayedFrom = local ? { address: local.address, port: local.port, url: local.url } : null;
    }
    result[peerId] = entry;
  }
  return result;
}"""


def relay_url(relay: TurnServer) -> str:
    """The relay as the app offers it: plain TURN over UDP."""
    return f"turn:{relay.host}:{relay.port}?transport=udp"


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[TurnServer]:
    """coturn with the shipped config plus the test-only override allowing 127.0.0.1 as a peer."""
    override = HERE / "turnserver-allow-loopback.conf"
    yield from start_turn(tmp_path_factory.mktemp("coturn-browser"), certificate, override)


@pytest.fixture(scope="module")
def static_root(live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate the database, collect static files and create the people, once for this module's servers."""
    root = tmp_path_factory.mktemp("static-turn")
    server = AppServer(live_database.url, root, name="prepare")
    try:
        server.prepare()
        server.create_users(PEOPLE)
    finally:
        server.close()
    return root


def serve(database: PostgresDatabase, static_root: Path, name: str, **settings: str) -> Iterator[AppServer]:
    server = AppServer(database.url, static_root, name=name, env={"STUN_URLS": "", "TURN_URLS": "", **settings})
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def relayed_app(live_database: PostgresDatabase, static_root: Path, relay: TurnServer) -> Iterator[AppServer]:
    """The app offering the relay only (no STUN), signing credentials with coturn's secret."""
    yield from serve(
        live_database,
        static_root,
        "relayed-app",
        TURN_URLS=relay_url(relay),
        TURN_SHARED_SECRET=SECRET,
        TURN_CREDENTIAL_TTL="600",
    )


@pytest.fixture
def forging_app(live_database: PostgresDatabase, static_root: Path, relay: TurnServer) -> Iterator[AppServer]:
    """The same relay, but the app signs with a secret coturn does not know."""
    yield from serve(
        live_database,
        static_root,
        "forging-app",
        TURN_URLS=relay_url(relay),
        TURN_SHARED_SECRET=secrets.token_hex(24),
    )


@pytest.fixture
def bare_app(live_database: PostgresDatabase, static_root: Path) -> Iterator[AppServer]:
    """The app with neither STUN nor TURN, as a newcomer's first run has it."""
    yield from serve(live_database, static_root, "bare-app")


@pytest.fixture
def browsers(chromium: Browser) -> Iterator[list[Caller]]:
    """The callers a test opens; their consoles are printed (shown if it fails), their contexts closed."""
    callers: list[Caller] = []
    yield callers
    for caller in callers:
        print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
        caller.context.close()


def logged_in(browser: Browser, server: AppServer, name: str, callers: list[Caller], *init_scripts: str) -> Caller:
    caller = Caller(browser, server, name)
    callers.append(caller)
    for script in init_scripts:
        caller.page.add_init_script(script)
    caller.log_in()
    return caller


def new_room(server: AppServer, prefix: str) -> str:
    slug = f"{prefix}-{secrets.token_hex(3)}"
    server.create_room(slug, owner="alice")
    return slug


def network_check(caller: Caller, slug: str) -> tuple[str, str]:
    """Open the room's pre-join screen; return the network check's verdict and what it says."""
    caller.page.goto(f"{caller.server.url}/rooms/{slug}/")
    check = caller.page.locator("#network-check")
    expect(check).not_to_have_attribute("data-verdict", "checking", timeout=VERDICT_TIMEOUT_MS)
    return check.get_attribute("data-verdict") or "", check.inner_text()


def udp_sockets_of(pid: int) -> set[tuple[str, int]]:
    """The IPv4 (address, port) of every UDP socket process `pid` holds open (Linux /proc)."""
    owned = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while we looked
            owned.add(os.readlink(fd))
    sockets = set()
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(":")
        if f"socket:[{fields[9]}]" in owned:
            sockets.add((socket.inet_ntoa(struct.pack("<I", int(address, 16))), int(port, 16)))
    return sockets


def relayed_both_ways(alice: Caller, bob: Caller) -> Callable[[], str | None]:
    """Each side decodes the other's video over a pair of relay candidates."""

    def check() -> str | None:
        for caller, other in ((alice, bob), (bob, alice)):
            stats = caller.page.evaluate(PATH_STATS_JS)
            got = stats.get(other.peer_id)
            if got is None:
                return f"{caller} has no connection to {other}: {stats}"
            if got["framesDecoded"] <= 0 or got["local"] is None:
                return f"{caller} receives from {other}: {got}"
        return None

    return check


@pytest.mark.timeout(180)
def test_a_call_forced_through_the_relay_carries_video_both_ways(
    chromium: Browser, relayed_app: AppServer, relay: TurnServer, browsers: list[Caller]
):
    slug = new_room(relayed_app, "relayed")
    alice, bob = (logged_in(chromium, relayed_app, name, browsers, FORCE_RELAY_JS) for name in ("alice", "bob"))
    alice.join(slug)
    bob.join(slug)

    eventually(relayed_both_ways(alice, bob))

    relayed_from = []
    for caller, other in ((alice, bob), (bob, alice)):
        path = caller.page.evaluate(PATH_STATS_JS)[other.peer_id]
        assert path["policy"] == "relay", "the test-only shim reached the mesh's connections"
        assert (path["local"], path["remote"]) == ("relay", "relay"), f"{caller}'s selected pair: {path}"
        assert path["relayedFrom"]["url"] == relay_url(relay), path
        relayed_from.append((path["relayedFrom"]["address"], path["relayedFrom"]["port"]))
    # coturn logs allocations only with `verbose`, which the shipped config leaves off; its
    # sockets tell instead: each browser's relayed address is an allocation coturn holds open.
    assert set(relayed_from) <= udp_sockets_of(relay.daemon.process.pid), relayed_from
    assert all(49152 <= port <= 49999 for _, port in relayed_from), "from the relay port range"


def test_the_network_check_says_calls_will_be_relayed_when_only_the_relay_is_offered(
    chromium: Browser, relayed_app: AppServer, browsers: list[Caller]
):
    alice = logged_in(chromium, relayed_app, "alice", browsers)

    verdict, text = network_check(alice, new_room(relayed_app, "check-relayed"))

    assert verdict == "relayed", text
    assert "relay" in text


def test_the_network_check_blames_the_server_when_the_relay_refuses_its_credentials(
    chromium: Browser, forging_app: AppServer, relay: TurnServer, browsers: list[Caller]
):
    alice = logged_in(chromium, forging_app, "alice", browsers)
    offered = alice.page.evaluate("fetch('/ice-servers/').then((response) => response.json())")
    assert [server["urls"] for server in offered["ice_servers"]] == [[relay_url(relay)]]

    verdict, text = network_check(alice, new_room(forging_app, "check-forged"))

    assert verdict == "misconfigured", text
    assert "not your network" in text
    assert re.search(r"administrator", text, re.IGNORECASE), f"no advice in: {text}"


def test_the_network_check_says_local_without_stun_or_turn(
    chromium: Browser, bare_app: AppServer, browsers: list[Caller]
):
    alice = logged_in(chromium, bare_app, "alice", browsers)

    verdict, text = network_check(alice, new_room(bare_app, "check-local"))

    assert verdict == "local", text
    assert "same network" in text
