"""Relay fallback and relayed tiles seen from real browsers (headless Chromium, the app served
by daphne with its embedded media worker).

alice and bob meet in a mesh room, but their pages drop each other's ICE candidates (a
test-only switch set by an init script), so no direct connection can come up: after an ICE
restart and the configured wait, the pages ask the relay to carry the pair and see each other
through the worker, both tiles marked "via server". In relay rooms, a mute shows on the other's
tile; in an `auto` room, tiles stay the same elements when the room moves to the relay.
"""

import secrets
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser

from tests.live_server import AppServer, PostgresDatabase
from tests.test_browser_call import PEOPLE, Caller, Party, eventually, everyone_receives
from tests.test_browser_relay import (
    DECODED_JS,
    SERVER_PEER_ID,
    TILE_VIDEO_JS,
    only_connected_to_the_relay,
    play_positions,
    tiles_play,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# tests only: static/js/mesh.js drops the other side's ICE candidates while this is set.
BLOCK_DIRECT_JS = "globalThis.__audioExchangeTest = { blockDirectConnections: true };"

TILE_FLAGS_JS = """(peerId) => {
  const tile = document.querySelector(`figure.tile[data-peer-id="${peerId}"]`);
  if (!tile) return null;
  return { muted: !tile.querySelector(".muted-flag").hidden, cameraOff: !tile.querySelector(".camera-flag").hidden };
}"""


def app_of_its_own(app_server: AppServer, database: PostgresDatabase, name: str, **env: str) -> AppServer:
    """An app process with settings of its own, started; `app_server` has already migrated the
    database and collected the static files."""
    server = AppServer(database.url, app_server.static_root, env=env, name=name)
    server.create_users(PEOPLE)
    server.start()
    return server


@pytest.fixture(scope="module")
def fallback_server(app_server: AppServer, live_database: PostgresDatabase) -> Iterator[AppServer]:
    """Pages give up on a direct connection after 3 s (before and after an ICE restart), and
    `auto` rooms relay above two people."""
    server = app_of_its_own(
        app_server, live_database, "fallback app", RELAY_FALLBACK_AFTER_SECONDS="3", RELAY_AUTO_ABOVE_VIDEO="2"
    )
    yield server
    server.close()


@pytest.fixture(scope="module")
def small_worker_server(app_server: AppServer, live_database: PostgresDatabase) -> Iterator[AppServer]:
    """A media worker that carries 4 streams at most: less than a video pair (8)."""
    server = app_of_its_own(
        app_server, live_database, "small worker app", RELAY_FALLBACK_AFTER_SECONDS="2", MEDIAWORKER_MAX_STREAMS="4"
    )
    yield server
    server.close()


class FallbackParty(Party):
    def pair_without_direct_connections(self, slug: str) -> tuple[Caller, Caller]:
        """alice and bob in room `slug`, their pages unable to connect directly."""
        return self.arrive_without_direct_connections("alice", slug), self.arrive_without_direct_connections(
            "bob", slug
        )

    def arrive_without_direct_connections(self, username: str, slug: str) -> Caller:
        caller = Caller(self.browser, self.server, username)
        caller.context.add_init_script(BLOCK_DIRECT_JS)
        self.callers.append(caller)
        caller.log_in()
        caller.join(slug)
        return caller


@pytest.fixture
def fallback_party(chromium: Browser, fallback_server: AppServer) -> Iterator[FallbackParty]:
    yield from party_at(chromium, fallback_server)


@pytest.fixture
def small_worker_party(chromium: Browser, small_worker_server: AppServer) -> Iterator[FallbackParty]:
    yield from party_at(chromium, small_worker_server)


def party_at(chromium: Browser, server: AppServer) -> Iterator[FallbackParty]:
    callers = FallbackParty(chromium, server)
    yield callers
    for caller in callers.callers:
        print(f"--- {caller.name}'s browser console ---", *caller.console[-60:], sep="\n")
    callers.close()


def relayed_not_direct(*callers: Caller) -> Callable[[], str | None]:
    """Each page's connection to "server" is up and decodes a video per other person, and its
    direct connection to each of them is not connected."""

    def check() -> str | None:
        for caller in callers:
            got = caller.page.evaluate(DECODED_JS)
            server = got.get(SERVER_PEER_ID)
            others = [other for other in callers if other is not caller]
            if server is None or server["connection"] != "connected":
                return f"{caller} -> {SERVER_PEER_ID}: {server} (all: {got})"
            if len([count for count in server["decoded"] if count > 0]) < len(others):
                return f"{caller} decodes {server['decoded']} through {SERVER_PEER_ID}"
            for other in others:
                direct = got.get(other.peer_id)
                if direct is not None and direct["connection"] == "connected":
                    return f"{caller} has a direct connection to {other}: {direct}"
        return None

    return check


def new_room(server: AppServer, prefix: str, mode: str) -> str:
    slug = f"{prefix}-{secrets.token_hex(3)}"
    server.create_room(slug, owner="alice", name=prefix.title(), mode=mode)
    return slug


@pytest.mark.timeout(150)
def test_a_pair_without_a_direct_connection_sees_each_other_through_the_relay(
    fallback_server: AppServer, fallback_party: FallbackParty
) -> None:
    alice, bob = fallback_party.pair_without_direct_connections(new_room(fallback_server, "fallback", mode="mesh"))

    eventually(relayed_not_direct(alice, bob), timeout=90)
    eventually(tiles_play(alice, bob))  # a picture in each tile, marked "via server", moving
    for caller in (alice, bob):
        assert caller.page.evaluate(DECODED_JS)[SERVER_PEER_ID]["connection"] == "connected"
        assert caller.protocol_errors() == [], caller.protocol_errors()


@pytest.mark.timeout(180)
def test_a_relayed_pair_keeps_its_connection_when_an_auto_room_moves_to_the_relay(
    fallback_server: AppServer, fallback_party: FallbackParty
) -> None:
    slug = new_room(fallback_server, "autofallback", mode="auto")
    alice, bob = fallback_party.pair_without_direct_connections(slug)
    eventually(relayed_not_direct(alice, bob), timeout=90)
    for caller in (alice, bob):
        caller.page.evaluate("() => { window.__serverPc = window.audioExchange.peerConnections().get('server'); }")

    carol = fallback_party.arrive("carol", slug)
    eventually(only_connected_to_the_relay(alice, bob, carol))
    eventually(tiles_play(alice, bob, carol, since=play_positions(alice, bob, carol)))
    for caller in (alice, bob):
        kept = caller.page.evaluate("() => window.__serverPc === window.audioExchange.peerConnections().get('server')")
        assert kept, f"{caller} kept its connection to the worker"


@pytest.mark.timeout(120)
def test_a_pair_the_relay_cannot_carry_is_told_why(
    small_worker_server: AppServer, small_worker_party: FallbackParty
) -> None:
    alice, bob = small_worker_party.pair_without_direct_connections(
        new_room(small_worker_server, "fullrelay", mode="mesh")
    )

    def refusal_shown() -> str | None:
        banners = {caller.name: caller.banner() for caller in (alice, bob)}
        shown = [text for text in banners.values() if "the media relay is full (4 streams)" in text]
        return None if shown else f"banners: {banners}"

    eventually(refusal_shown, timeout=60)
    codes = {error["code"] for caller in (alice, bob) for error in caller.protocol_errors()}
    assert codes == {"relay_full"}, codes
    for caller in (alice, bob):
        assert SERVER_PEER_ID not in caller.page.evaluate(DECODED_JS), "no connection to the worker"


@pytest.mark.timeout(120)
def test_a_mute_in_a_relay_room_shows_on_the_others_tile(
    fallback_server: AppServer, fallback_party: FallbackParty
) -> None:
    slug = new_room(fallback_server, "relaymute", mode="relay")
    alice, bob = fallback_party.arrive("alice", slug), fallback_party.arrive("bob", slug)
    eventually(tiles_play(alice, bob))

    mute(bob)
    bob.page.get_by_role("button", name="Camera off", exact=True).click()

    eventually(flags_shown(alice, bob))
    # Someone joining later finds bob's state in `welcome` and shows it too.
    carol = fallback_party.arrive("carol", slug)
    eventually(flags_shown(carol, bob))


def mute(caller: Caller) -> None:
    caller.page.get_by_role("button", name="Mute", exact=True).click()


def flags_shown(caller: Caller, other: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        flags = caller.page.evaluate(TILE_FLAGS_JS, other.peer_id)
        return None if flags == {"muted": True, "cameraOff": True} else f"{caller}'s tile of {other}: {flags}"

    return check


@pytest.mark.timeout(180)
def test_tiles_stay_when_an_auto_room_moves_to_the_relay(
    fallback_server: AppServer, fallback_party: FallbackParty
) -> None:
    slug = new_room(fallback_server, "autotiles", mode="auto")
    alice, bob = fallback_party.arrive("alice", slug), fallback_party.arrive("bob", slug)
    eventually(everyone_receives(alice, bob))
    mute(bob)
    eventually(lambda: None if alice.page.evaluate(TILE_FLAGS_JS, bob.peer_id)["muted"] else "bob not shown muted")
    alice.page.evaluate(
        "(peerId) => { window.__bobTile = document.querySelector(`figure.tile[data-peer-id='${peerId}']`); }",
        bob.peer_id,
    )

    carol = fallback_party.arrive("carol", slug)
    eventually(tiles_play(alice, bob, carol))  # all relayed now
    kept = alice.page.evaluate(
        "(peerId) => window.__bobTile === document.querySelector(`figure.tile[data-peer-id='${peerId}']`)", bob.peer_id
    )
    assert kept, "alice's tile of bob is the same element as before the move"
    assert alice.page.evaluate(TILE_FLAGS_JS, bob.peer_id)["muted"], "and still shows bob muted"
    assert alice.page.evaluate(TILE_VIDEO_JS, bob.peer_id)["path"] == "via server"
