"""Relay rooms carried by Janus, seen from real browsers: headless Chromium against the app
served by daphne with JANUS_URLS set, and Debian's Janus from the shipped configuration.

Each page holds two connections, both with the peer "server": one that publishes its camera
and microphone (send-only, offered by the page) and one that receives everyone else
(offered by Janus, renegotiated as people come and go). No page connects to another.
"""

import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypedDict

import pytest
from playwright.sync_api import Browser

from sfu.tests.janus_server import JanusServer
from tests.live_server import AppServer, Person, PostgresDatabase
from tests.test_browser_call import (  # noqa: F401
    Caller,
    Party,
    another_app,
    eventually,
    party_on,
    people,
)
from tests.test_browser_relay import play_positions, tiles_play, to_the_relay_and_back

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERVER = "server"
UPLOAD = "server/publish"

# Per connection of the page: its state, and per inbound/outbound stream what has flowed.
FLOWS_JS = """async () => {
  const result = {};
  for (const [name, pc] of window.audioExchange.peerConnections()) {
    const entry = { connection: pc.connectionState, video: [], audio: [], sentVideo: 0, sentAudio: 0,
                    receiving: pc.getTransceivers().filter((t) => t.currentDirection === "recvonly").length };
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") entry.video.push(report.framesDecoded ?? 0);
      if (report.type === "inbound-rtp" && report.kind === "audio") entry.audio.push(report.bytesReceived ?? 0);
      if (report.type === "outbound-rtp" && report.kind === "video") entry.sentVideo += report.bytesSent ?? 0;
      if (report.type === "outbound-rtp" && report.kind === "audio") entry.sentAudio += report.bytesSent ?? 0;
    });
    result[name] = entry;
  }
  return result;
}"""


def host_networks() -> str:
    """This machine's own networks (where Chromium's host candidates are), for JANUS_BROWSER_NETWORKS."""
    interfaces = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout)
    return ",".join(
        f"{address['local']}/{address['prefixlen']}"
        for interface in interfaces
        for address in interface.get("addr_info", [])
        if address.get("scope") == "global"
    )


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusServer]:
    with JanusServer(Path(tmp_path_factory.mktemp("janus"))) as server:
        yield server


@pytest.fixture(scope="module")
def janus_app(
    app_server: AppServer,
    live_database: PostgresDatabase,
    people: list[Person],  # noqa: F811
    janus: JanusServer,
) -> Iterator[AppServer]:
    """An app process of its own whose relay rooms (and `auto` rooms above two people) go
    through `janus`."""
    env = {
        "JANUS_URLS": janus.url,
        "JANUS_API_SECRET": janus.api_secret,
        "JANUS_ADMIN_KEY": janus.admin_key,
        "JANUS_BROWSER_NETWORKS": host_networks(),
        "RELAY_AUTO_ABOVE_VIDEO": "2",  # `auto` rooms: a mesh for two, Janus from three
    }
    yield from another_app(app_server, live_database, "janus app", env)


@pytest.fixture
def janus_party(chromium: Browser, janus_app: AppServer) -> Iterator[Party]:
    yield from party_on(chromium, janus_app)


class Flow(TypedDict):
    """One connection as FLOWS_JS reports it."""

    connection: str
    video: list[int]  # frames decoded, per inbound video stream
    audio: list[int]  # bytes received, per inbound audio stream
    sentVideo: int
    sentAudio: int
    receiving: int  # transceivers negotiated to receive


def flows(caller: Caller) -> dict[str, Flow]:
    result: dict[str, Flow] = caller.page.evaluate(FLOWS_JS)
    return result


def through_janus_only(*callers: Caller) -> Callable[[], str | None]:
    """Each page publishes on one connection and receives every other person on the other: both
    up, the upload sending audio and video, one decoded video and one audio stream per other."""

    def check() -> str | None:
        for caller in callers:
            got = flows(caller)
            if sorted(got) != [SERVER, UPLOAD]:
                return f"{caller} has connections {sorted(got)}, expected {[SERVER, UPLOAD]}"
            down, up = got[SERVER], got[UPLOAD]
            if up["connection"] != "connected" or not (up["sentVideo"] and up["sentAudio"]):
                return f"{caller}'s upload: {up}"
            others = len(callers) - 1
            decoding = [frames for frames in down["video"] if frames > 0]
            hearing = [size for size in down["audio"] if size > 0]
            if down["connection"] != "connected" or down["receiving"] != 2 * others or len(decoding) != others:
                return f"{caller} receives: {down}"
            if len(hearing) != others:
                return f"{caller} hears {len(hearing)} of {others}: {down}"
        return None

    return check


def audio_keeps_coming(*callers: Caller) -> Callable[[], str | None]:
    """Every page has received more audio on each of its inbound streams than when this was called."""
    before = {caller.name: sorted(flows(caller)[SERVER]["audio"]) for caller in callers}

    def check() -> str | None:
        for caller in callers:
            now = sorted(flows(caller)[SERVER]["audio"])
            was = before[caller.name]
            if len(now) != len(was) or any(new <= old for new, old in zip(now, was, strict=True)):
                return f"{caller}'s inbound audio bytes went {was} -> {now}"
        return None

    return check


def tiles_are(caller: Caller, *others: Caller) -> Callable[[], str | None]:
    def check() -> str | None:
        expected = sorted(other.peer_id for other in others)
        got = sorted(tile for tile in caller.tile_ids() if tile != "local")  # not their own
        return None if got == expected else f"{caller} shows tiles {got}, expected {expected} ({others})"

    return check


@pytest.mark.timeout(300)
def test_three_see_and_hear_each_other_through_janus_then_carol_leaves_and_dave_arrives(
    janus_app: AppServer, janus_party: Party
) -> None:
    slug = f"janus-{secrets.token_hex(3)}"
    janus_app.create_room(slug, owner="alice", name="Through Janus", mode="relay")
    alice, bob, carol = (janus_party.arrive(name, slug) for name in ("alice", "bob", "carol"))

    eventually(through_janus_only(alice, bob, carol))
    eventually(tiles_play(alice, bob, carol, since=play_positions(alice, bob, carol)))
    eventually(audio_keeps_coming(alice, bob, carol))

    carol.leave()
    for caller, other in ((alice, bob), (bob, alice)):
        eventually(tiles_are(caller, other))
    # Janus renegotiated their receiving connections: only the other's two streams still flow.
    eventually(through_janus_only(alice, bob))
    eventually(tiles_play(alice, bob, since=play_positions(alice, bob)))

    dave = janus_party.arrive("dave", slug)
    for caller, others in ((alice, (bob, dave)), (bob, (alice, dave)), (dave, (alice, bob))):
        eventually(tiles_are(caller, *others))
    eventually(through_janus_only(alice, bob, dave))
    eventually(tiles_play(alice, bob, dave, since=play_positions(alice, bob, dave)))
    eventually(audio_keeps_coming(alice, bob, dave))


@pytest.mark.timeout(240)
def test_an_auto_room_moves_to_janus_and_back_to_a_mesh_without_a_reload(
    janus_app: AppServer, janus_party: Party
) -> None:
    to_the_relay_and_back(janus_app, janus_party, through_janus_only)
