"""Media through Janus with the VideoRoom wrapper: an aiortc publisher, an aiortc subscriber.

aiortc stands in for the browsers here (the relay the server will run never touches media:
it only passes SDP and candidates between a browser and Janus, as these tests do).
"""

import asyncio
import contextlib
import logging
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiortc import MediaStreamTrack, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame, VideoFrame
from av import open as av_open

from sfu import videoroom
from sfu.janus_client import Handle, JanusConnection, JsonDict, SessionLost
from sfu.tests.janus_server import JanusServer

pytestmark = pytest.mark.slow


class JanusPeer:
    """An aiortc peer connection on one Janus handle: Janus's trickled candidates go into it,
    and Janus's other events are kept (`webrtcup`, `media`, ...)."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.pc = RTCPeerConnection()
        self.events: list[JsonDict] = []
        self.tracks: list[MediaStreamTrack] = []
        self.pc.on("track", self.tracks.append)
        # Janus may trickle a candidate before its SDP has been set here: kept until then.
        self._candidates: list[RTCIceCandidate] = []
        self._pump = asyncio.create_task(self._take_events())

    async def _add_candidates(self) -> None:
        while self._candidates and self.pc.remoteDescription is not None:
            await self.pc.addIceCandidate(self._candidates.pop(0))

    async def _take_events(self) -> None:
        with contextlib.suppress(SessionLost):
            while True:
                event = await self.handle.next_event(timeout=3600)
                candidate = event.get("candidate")
                if event.get("janus") == "trickle" and candidate and "candidate" in candidate:
                    parsed = candidate_from_sdp(candidate["candidate"].split(":", 1)[1])
                    parsed.sdpMid, parsed.sdpMLineIndex = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
                    self._candidates.append(parsed)
                    await self._add_candidates()
                else:
                    self.events.append(event)

    async def publish(self, access: videoroom.RoomAccess, participant_id: int, display: str) -> None:
        """Join as a publisher and send a test tone and a test picture until Janus is up."""
        await videoroom.join_as_publisher(self.handle, access, participant_id, display)
        self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        self.pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.set_remote(await videoroom.publish(self.handle, self.local()))
        await self.wait_for_event("webrtcup")

    async def answer(self, offer: JsonDict) -> None:
        """Answer Janus's subscriber offer (first or renegotiated) with `start`."""
        await self.set_remote(offer)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await videoroom.start(self.handle, self.local())

    async def frames(self, count: int) -> list[object]:
        """One frame from each of the first `count` tracks received."""
        while len(self.tracks) < count:
            await asyncio.sleep(0.05)
        return [*await asyncio.gather(*(track.recv() for track in self.tracks[:count]))]

    def local(self) -> JsonDict:
        """Our SDP as a Janus jsep (aiortc puts every candidate in it: nothing left to trickle)."""
        return {"type": self.pc.localDescription.type, "sdp": self.pc.localDescription.sdp}

    async def set_remote(self, jsep: JsonDict) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        await self._add_candidates()
        await self.handle.trickle(None)

    async def wait_for_event(self, kind: str, timeout: float = 20) -> JsonDict:
        async def seen() -> JsonDict:
            while True:
                for event in self.events:
                    if event.get("janus") == kind:
                        return event
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(seen(), timeout)

    async def close(self) -> None:
        """Stop taking events and close the peer connection, within 10 s."""
        self._pump.cancel()
        await asyncio.wait({self._pump}, timeout=5)
        # `asyncio.wait`, not `wait_for`: on Python 3.11 `wait_for` waits for the cancelled
        # close to finish, so a close stuck on a transport whose far end is gone would still
        # hang the teardown. This is the test's own client peer, not what the test checks.
        closing = asyncio.ensure_future(self.pc.close())
        _, pending = await asyncio.wait({closing}, timeout=10)
        if pending:
            logging.getLogger(__name__).warning("aiortc peer did not close within 10 s")


@pytest.fixture
async def peers() -> AsyncIterator[list[JanusPeer]]:
    made: list[JanusPeer] = []
    yield made
    for peer in made:
        await peer.close()


async def test_bob_receives_alice_then_carol_through_janus_on_one_subscriber_connection(
    janus: JanusServer, connect_to, peers: list[JanusPeer]
):
    connection: JanusConnection = connect_to(janus)
    session = await connection.create_session()
    admin = await session.attach(videoroom.PLUGIN)
    room = await videoroom.create_room(admin, janus.admin_key, publishers=6, videocodec="vp8", audiocodec="opus")
    alice, bob, carol = [JanusPeer(await session.attach(videoroom.PLUGIN)) for _ in range(3)]
    peers.extend([alice, bob, carol])

    await alice.publish(room, 11, "Alice")
    await bob.answer((await videoroom.subscribe(bob.handle, room, [11])).jsep)
    first = await asyncio.wait_for(bob.frames(2), 20)
    await carol.publish(room, 13, "Carol")
    renegotiated = await videoroom.update_subscription(bob.handle, add=[13], remove=[])
    assert renegotiated is not None and renegotiated.owners() == {"0": 11, "1": 11, "2": 13, "3": 13}
    await bob.answer(renegotiated.jsep)
    both = await asyncio.wait_for(bob.frames(4), 20)

    for frames in (first, both):
        audio = [frame for frame in frames if isinstance(frame, AudioFrame)]
        video = [frame for frame in frames if isinstance(frame, VideoFrame)]
        assert len(audio) == len(video) == len(frames) // 2
        assert {frame.sample_rate for frame in audio} == {48000}
        assert {(frame.width, frame.height) for frame in video} == {(640, 480)}
    assert sorted(await videoroom.list_participants(admin, room), key=lambda person: person.id) == [
        videoroom.Participant(11, "Alice", True),
        videoroom.Participant(13, "Carol", True),
    ]


def recordings(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.mjr")) if folder.exists() else []


async def poll_until(condition: Callable[[], bool], timeout: float) -> None:
    async def holds() -> None:
        while not condition():
            await asyncio.sleep(0.1)

    await asyncio.wait_for(holds(), timeout)


async def convert(recording: Path, target: Path) -> tuple[int | None, str]:
    """`janus-pp-rec` run without blocking the event loop (a blocked loop starves every peer):
    its exit code and error output."""
    process = await asyncio.create_subprocess_exec(
        "janus-pp-rec", str(recording), str(target), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, errors.decode(errors="replace")


async def test_janus_records_each_stream_only_outside_its_protected_folders(
    janus: JanusServer, connect_to, peers: list[JanusPeer], tmp_path: Path
):
    session = await connect_to(janus).create_session()
    admin = await session.attach(videoroom.PLUGIN)
    allowed, protected = tmp_path / "recordings", janus.config_dir / "recordings"
    allowed.mkdir()
    protected.mkdir()
    alice, mallory = [JanusPeer(await session.attach(videoroom.PLUGIN)) for _ in range(2)]
    peers.extend([alice, mallory])

    for peer, folder in ((alice, allowed), (mallory, protected)):
        room = await videoroom.create_room(admin, janus.admin_key, publishers=2, record=True, rec_dir=str(folder))
        await peer.publish(room, 11, "Someone")
    await poll_until(lambda: [f.stat().st_size > 10_000 for f in recordings(allowed)] == [True, True], 20)
    await alice.handle.detach()  # Janus closes the publisher's recordings
    for peer in peers:  # no media of ours still flowing while the file is converted
        await peer.close()
    video = next(path for path in recordings(allowed) if "-video-" in path.name)
    exit_code, errors = await convert(video, tmp_path / "alice.webm")

    assert [path.name.rsplit("-", 2)[1] for path in recordings(allowed)] == ["audio", "video"]
    assert exit_code == 0, errors
    with av_open(str(tmp_path / "alice.webm")) as container:
        assert sum(1 for _ in container.decode(video=0)) > 5
    assert recordings(protected) == []
    assert "is in protected folder" in janus.log_tail(200_000)
