"""The Janus media backend against a real Janus (Debian's, from the shipped configuration).

People are put in presence as signaling admits them, with real channels of the channel layer;
what the backend tells their browsers is read from those channels.
"""

import asyncio
import ipaddress
import json
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame
from channels.layers import get_channel_layer

from sfu import videoroom
from sfu.backend import JanusBackend
from sfu.candidates import Network
from sfu.janus_client import JanusConnection, JanusError, close_connections
from sfu.tests.conftest import FAST
from sfu.tests.janus_server import JanusServer
from signaling import protocol
from signaling.media import MediaRefused
from signaling.presence import Peer, get_presence

pytestmark = pytest.mark.slow

SLUG = "townhall"
# Browsers on this private network may give Janus their candidates; others' are refused.
OFFICE = ipaddress.ip_network("10.9.0.0/16")


@pytest.fixture
async def backend(janus: JanusServer) -> AsyncIterator[JanusBackend]:
    backend = JanusBackend(janus.url, janus.api_secret, janus.admin_key, allowed=[OFFICE], options=FAST)
    yield backend
    for slug in list(backend.rooms):
        await backend.release_room(slug)
    await close_connections()


@pytest.fixture
async def admitted() -> AsyncIterator[Callable[..., Any]]:
    """Put a named person in room SLUG's presence with a channel of their own."""
    peers: list[Peer] = []

    async def admit(peer_id: str, name: str) -> Peer:
        channel = await get_channel_layer().new_channel()
        peer = Peer(peer_id=peer_id, name=name, user_id=None, channel_name=channel)
        await get_presence().admit(SLUG, peer, capacity=10)
        peers.append(peer)
        return peer

    yield admit
    for peer in peers:
        await get_presence().leave(SLUG, peer.peer_id)


async def told(peer: Peer) -> dict[str, Any]:
    """The next message the backend sent `peer`'s browser."""
    async with asyncio.timeout(5):
        event = await get_channel_layer().receive(peer.channel_name)
    assert event["type"] == "peer.signal"
    message: dict[str, Any] = json.loads(event["text"])
    return message


def candidate(address: str) -> str:
    """A browser's trickled host candidate for its publishing connection, as signaling renders it."""
    init = {"candidate": f"candidate:1 1 udp 2122260223 {address} 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    ice = protocol.IceCandidate(to=protocol.SERVER_PEER_ID, candidate=init, link=protocol.PUBLISH_LINK)
    return protocol.render_signal(ice, "alice-peer")


async def listed_rooms(connection: JanusConnection, admin_key: str | None) -> list[int]:
    handle = await (await connection.create_session()).attach(videoroom.PLUGIN)
    return [int(room["room"]) for room in await videoroom.list_rooms(handle, admin_key)]


async def test_a_relay_room_is_a_private_janus_room_that_only_the_server_can_manage(
    janus: JanusServer, backend: JanusBackend, connect_to
):
    await backend.relay_room(SLUG, audio_only=False)
    access = backend.rooms[SLUG].access
    someone = connect_to(janus)
    handle = await (await someone.create_session()).attach(videoroom.PLUGIN)

    assert access.room not in await listed_rooms(someone, admin_key=None)
    assert access.room in await listed_rooms(someone, admin_key=janus.admin_key)
    with pytest.raises(JanusError) as refused:
        await videoroom.destroy_room(handle, videoroom.RoomAccess(access.room, secret="guessed", pin=""))
    assert refused.value.code == 433  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED: "wrong secret"
    assert len(access.secret) >= 32 and len(access.pin) >= 32


async def test_people_join_under_the_id_and_name_the_server_chose_and_the_room_goes_with_the_last(
    janus: JanusServer, backend: JanusBackend, admitted, connect_to
):
    alice, bob = await admitted("alice-peer", "Alice"), await admitted("bob-peer", "Bob")
    await backend.relay_room(SLUG, audio_only=False)
    access = backend.rooms[SLUG].access
    await backend.person_joined(SLUG, alice.peer_id)
    await backend.person_joined(SLUG, bob.peer_id)
    someone = connect_to(janus)
    handle = await (await someone.create_session()).attach(videoroom.PLUGIN)

    assert await told(alice) == {"type": "relay-publish", "from": "server"}
    assert await told(bob) == {"type": "relay-publish", "from": "server"}
    members = backend.rooms[SLUG].members
    assert sorted((p.id, p.display) for p in await videoroom.list_participants(handle, access)) == sorted(
        [(members[alice.peer_id].feed, "Alice"), (members[bob.peer_id].feed, "Bob")]
    )
    await backend.person_left(SLUG, alice.peer_id)
    async with asyncio.timeout(5):  # Janus lets a detached handle's participant go a moment later
        while [p.display for p in await videoroom.list_participants(handle, access)] != ["Bob"]:
            await asyncio.sleep(0.05)
    await backend.person_left(SLUG, bob.peer_id)
    assert SLUG not in backend.rooms
    assert access.room not in await listed_rooms(someone, admin_key=janus.admin_key)


async def test_a_candidate_outside_the_allowed_addresses_is_refused_with_a_code_and_a_sentence(
    backend: JanusBackend, admitted
):
    alice = await admitted("alice-peer", "Alice")
    await backend.relay_room(SLUG, audio_only=False)
    await backend.person_joined(SLUG, alice.peer_id)

    await backend.signal(SLUG, alice.peer_id, candidate("10.9.4.2"))  # the office network: passed on
    with pytest.raises(protocol.ProtocolError) as refused:
        await backend.signal(SLUG, alice.peer_id, candidate("10.1.2.3"))

    assert refused.value.code == "bad_candidate"
    assert refused.value.message == "The address 10.1.2.3 is not a public one the media server may send to."


async def test_recording_a_room_janus_carries_is_refused_with_a_reason(backend: JanusBackend):
    await backend.relay_room(SLUG, audio_only=False)

    with pytest.raises(MediaRefused) as refused:
        await backend.start_recording(SLUG, recording_id=1)

    assert refused.value.code == "recording_unavailable"
    assert refused.value.message == "Rooms carried by the Janus media server cannot be recorded yet."


class Browser:
    """An aiortc stand-in for a browser on the Janus relay: it does what static/js/relay.js does
    with what the backend sends its channel (publish on `relay-publish`, answer `server`'s offers).

    It sends a tone only: three aiortc peers encoding and decoding VP8 in one process on a busy
    machine lose packets and wait for keyframes; video through Janus is the browser test's
    (tests/test_browser_janus.py)."""

    def __init__(self, backend: JanusBackend, peer: Peer) -> None:
        self.backend, self.peer = backend, peer
        self.upload = RTCPeerConnection()
        self.download = RTCPeerConnection()
        self.owners: dict[str, str] = {}  # mid -> peer id, from the last relay-tracks
        self.tracks: dict[str, list[MediaStreamTrack]] = {}  # peer id -> their tracks received
        self.offers = 0
        self.publishes = 0
        self.download.on("track", self._received)
        self._reader = asyncio.create_task(self._read())

    async def _start_afresh(self) -> None:
        """A second `relay-publish`: Janus took us in again, on new connections (as relay.js)."""
        old = (self.upload, self.download)
        self.upload, self.download, self.tracks = RTCPeerConnection(), RTCPeerConnection(), {}
        self.download.on("track", self._received)
        for pc in old:
            await pc.close()

    def _received(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.download.getTransceivers() if t.receiver.track is track)
        self.tracks.setdefault(self.owners[str(mid)], []).append(track)

    async def _read(self) -> None:
        while True:
            message = await told(self.peer)
            await self._act(message)

    async def _act(self, message: dict[str, Any]) -> None:
        kind, upload = message["type"], message.get("link") == protocol.PUBLISH_LINK
        pc = self.upload if upload else self.download
        if kind == "relay-publish":
            if self.publishes:
                await self._start_afresh()
            self.publishes += 1
            self.upload.addTransceiver(AudioStreamTrack(), direction="sendonly")
            await self.upload.setLocalDescription(await self.upload.createOffer())
            await self._send("offer", self.upload.localDescription.sdp, protocol.PUBLISH_LINK)
        elif kind == "relay-tracks":
            self.owners = message["tracks"]
        elif kind in ("offer", "answer"):
            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type=kind))
            if kind == "offer":
                self.offers += 1
                await pc.setLocalDescription(await pc.createAnswer())
                await self._send("answer", pc.localDescription.sdp)
        elif kind == "ice" and message["candidate"] is not None:
            init = message["candidate"]
            candidate = candidate_from_sdp(init["candidate"].split(":", 1)[1])
            candidate.sdpMid, candidate.sdpMLineIndex = init.get("sdpMid"), init.get("sdpMLineIndex")
            await pc.addIceCandidate(candidate)

    async def _send(self, kind: str, sdp: str, link: str = "") -> None:
        message = protocol.SessionDescription(type=kind, to=protocol.SERVER_PEER_ID, sdp=sdp, link=link)  # type: ignore[arg-type]
        await self.backend.signal(SLUG, self.peer.peer_id, protocol.render_signal(message, self.peer.peer_id))

    async def hears(self, other: "Browser") -> int:
        """The sample rate of the sound received from `other`."""
        async with asyncio.timeout(20):
            while not self.tracks.get(other.peer.peer_id):
                await asyncio.sleep(0.05)
            frame = await self.tracks[other.peer.peer_id][-1].recv()
        assert isinstance(frame, AudioFrame)
        return int(frame.sample_rate)

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.wait({self._reader}, timeout=5)
        for pc in (self.upload, self.download):
            await asyncio.wait({asyncio.ensure_future(pc.close())}, timeout=10)


def host_networks() -> list[Network]:
    """This machine's networks, where aiortc's host candidates are (private here, as in CI)."""
    interfaces = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout)
    return [
        ipaddress.ip_network(f"{address['local']}/{address['prefixlen']}", strict=False)
        for interface in interfaces
        for address in interface.get("addr_info", [])
        if address.get("scope") == "global"
    ]


async def eventually(condition: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


@pytest.fixture
async def arrive(janus: JanusServer, admitted) -> AsyncIterator[Callable[[str], Awaitable[Browser]]]:
    """People arriving in relay room SLUG, carried by a backend whose allowed networks are this
    machine's (where aiortc's candidates are), each with an aiortc browser."""
    backend = JanusBackend(janus.url, janus.api_secret, janus.admin_key, allowed=host_networks(), options=FAST)
    await backend.relay_room(SLUG, audio_only=False)
    browsers: list[Browser] = []

    async def arrive(name: str) -> Browser:
        peer = await admitted(f"{name}-peer", name.title())
        browsers.append(Browser(backend, peer))
        await backend.person_joined(SLUG, peer.peer_id)
        return browsers[-1]

    yield arrive
    for browser in browsers:
        await browser.close()
    await backend.release_room(SLUG)
    await close_connections()


async def test_everyone_hears_the_others_on_one_subscriber_renegotiated_as_people_come_and_go(arrive):
    alice, bob = await arrive("alice"), await arrive("bob")
    assert await bob.hears(alice) == await alice.hears(bob) == 48000

    carol = await arrive("carol")
    assert await carol.hears(alice) == await carol.hears(bob) == 48000
    assert await alice.hears(carol) == await bob.hears(carol) == 48000
    assert alice.offers == bob.offers == 2  # renegotiated once, for carol
    assert set(alice.owners.values()) == {bob.peer.peer_id, carol.peer.peer_id}

    await alice.backend.person_left(SLUG, carol.peer.peer_id)
    await eventually(lambda: alice.offers == 3)  # Janus renegotiated without carol's feed
    assert set(alice.owners.values()) == {bob.peer.peer_id}
    assert await alice.hears(bob) == 48000


async def test_after_janus_is_killed_and_restarted_the_room_is_carried_again_without_anyone_rejoining(
    janus: JanusServer, arrive
):
    alice, bob = await arrive("alice"), await arrive("bob")
    assert await bob.hears(alice) == await alice.hears(bob) == 48000
    before = alice.backend.rooms[SLUG].access.room

    await asyncio.to_thread(janus.restart)  # kill -9, then the same Janus again
    await eventually(lambda: alice.publishes == bob.publishes == 2, timeout=30)

    assert alice.backend.rooms[SLUG].access.room != before
    assert await bob.hears(alice) == await alice.hears(bob) == 48000
