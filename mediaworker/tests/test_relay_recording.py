"""Recording a room whose media goes through the relay: the worker writes copies of the uploads
it already receives. aiortc plays the browsers, through the real room socket."""

from functools import partial
from typing import Any

import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av.video.frame import VideoFrame
from channels.db import database_sync_to_async

from accounts.models import User
from mediaworker import dispatch, selectors
from mediaworker.models import Recording, RecordingTrack
from mediaworker.tests.conftest import Caller, poll, stream_duration
from mediaworker.tests.test_recording import probe, recording_finished, tracks_written
from mediaworker.tests.test_relay import RelayCaller, audio_relay_room, auto_audio_room, frames_grow, relay_room
from mediaworker.worker import MediaWorker
from rooms.models import Room
from signaling.tests.conftest import Browser, Connect, enter

__all__ = ["audio_relay_room", "auto_audio_room", "relay_room"]  # fixtures
pytestmark = pytest.mark.django_db(transaction=True)


class SmallCamera(VideoStreamTrack):
    """A 160x120 test picture: the browsers, the relay and the recording share two cores here,
    and 640x480 frames encoded a dozen times over make the whole pipeline lag behind the clock."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=160, height=120)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts, frame.time_base = pts, time_base
        return frame


def serving(separate_worker: MediaWorker | None) -> MediaWorker:
    worker = dispatch.embedded_worker() or separate_worker
    assert worker is not None
    return worker


@pytest.mark.embedded_only  # as test_relay.py; with REDIS_URL: tests/test_multiprocess_media.py
async def test_alice_records_a_relay_room_from_the_uploads_the_worker_relays(
    connect: Connect, alice: User, bob: User, carol: User, relay_room: Room, separate_worker: MediaWorker | None
) -> None:
    alice_call = RelayCaller(await enter(connect, alice), camera=SmallCamera)
    bob_call = RelayCaller(await enter(connect, bob), camera=SmallCamera)
    carol_call: RelayCaller | None = None
    try:
        await frames_grow(alice_call, bob_call, "video")
        worker = serving(separate_worker)
        relay = worker.relays["standup"]
        links = list(relay.links.values())

        await alice_call.browser.send({"type": "recording", "action": "start"})
        for call in (alice_call, bob_call):
            await poll(partial(call.got, type="recording", active=True, by="Alice A."))
        await poll(lambda: tracks_written(4))  # audio and video of Alice and of Bob
        session = worker.sessions["standup"]
        assert session.peers == {}, "no second connection: the relay's uploads are copied"
        assert set(session.tapped) == {alice_call.peer_id, bob_call.peer_id}
        # Relayed 8 (2 uploads + 2 copies, audio and video) plus 4 files written.
        assert worker.stream_count() == 8 + 4

        # Carol joins mid-recording: she is told, and recorded from when she joins.
        carol_browser = await connect(carol)
        assert (await carol_browser.join())["room"]["recording"] is True
        carol_call = RelayCaller(carol_browser, camera=SmallCamera)
        await poll(lambda: tracks_written(6))
        await frames_grow(carol_call, alice_call, "video")

        # Bob leaves: his files are closed, the others' go on.
        bob_files = list(session.tapped[bob_call.peer_id].writers)
        await bob_call.hang_up()
        await poll(lambda: bob_call.peer_id not in session.tapped)
        await poll(partial(bob_closed, bob_call.peer_id))
        writers = [w for tracks in session.tapped.values() for w in tracks.writers]
        audio = [w for w in writers if w.kind == "audio"]
        await poll(lambda: all(w.frames >= 150 for w in audio), timeout=30)  # 3 s of voice each

        await alice_call.browser.send({"type": "recording", "action": "stop"})
        for listener in (alice_call, carol_call):
            await poll(partial(listener.got, type="recording", active=False, by="Alice A."))
        await poll(recording_finished, timeout=90, interval=0.5)  # few reads: SQLite's shared cache
        # The relay goes on: stopping the recording stops only the copies.
        assert "standup" not in worker.sessions
        await frames_grow(alice_call, carol_call, "video")
        assert worker.stream_count() == relay.stream_count() == 8
    finally:
        for caller in (alice_call, bob_call, carol_call):
            if caller is not None:
                await caller.hang_up()

    await poll(lambda: "standup" not in worker.relays)
    assert worker.stream_count() == 0
    assert all(link.closed and link.pc.connectionState == "closed" for link in [*links, *relay.links.values()])
    assert all(not tracks.writing for tracks in session.tapped.values())
    assert all(writer.frames > 0 for writer in bob_files)
    await database_sync_to_async(check_relay_recording)(alice, bob)


@database_sync_to_async
def bob_closed(peer_id: str) -> bool:
    tracks = RecordingTrack.objects.filter(peer_id=peer_id)
    return len(tracks) == 2 and all(track.end_offset is not None for track in tracks)


def check_relay_recording(alice: User, bob: User) -> None:
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY, recording.error
    assert recording.started_by == alice
    assert recording.duration is not None
    directory = selectors.recording_directory(recording)
    tracks = list(recording.tracks.all())
    assert sorted(track.kind for track in tracks) == ["audio"] * 3 + ["video"] * 3
    for track in tracks:
        assert track.end_offset is not None, track
        probed = probe(directory / track.file)
        assert probed["kinds"] == [track.kind], track
        # At most as long as its person was recorded. Not "as long": in one loaded process the
        # test browsers send slower than the clock runs (2 cores, shared), so media time lags.
        assert 0.5 < probed["duration"] < track.end_offset - track.start_offset + 0.5, (track, probed)
    bob_tracks = [track for track in tracks if track.name == bob.public_name]
    assert len(bob_tracks) == 2
    assert all((track.end_offset or 0) < recording.duration - 1 for track in bob_tracks), "he left early"
    assert recording.file == "composite.webm"
    for kind in ("audio", "video"):  # each stream lasts from start to stop
        length = stream_duration(directory / recording.file, kind)
        assert abs(length - recording.duration) < 0.5, (kind, length, recording.duration)


@pytest.mark.embedded_only
async def test_relayed_and_recorded_streams_share_one_capacity(
    connect: Connect,
    settings: Any,
    alice: User,
    bob: User,
    carol: User,
    audio_relay_room: Room,
    separate_worker: MediaWorker | None,
) -> None:
    # Alice and Bob relayed: 2 uploads + 2 copies = 4. Recording them adds 2 files: 6 > 5.
    settings.MEDIAWORKER_MAX_STREAMS = 5
    settings.MEDIAWORKER_ROOM_SHARE = settings.MEDIAWORKER_OWNER_SHARE = 1.0  # the worker's own limit
    alice_call = RelayCaller(await enter(connect, alice), video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    carol_call: RelayCaller | None = None
    try:
        await frames_grow(alice_call, bob_call, "audio")
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(lambda: alice_call.got(type="error", code="recording_unavailable"))
        refusal = next(m for m in alice_call.messages if m.get("code") == "recording_unavailable")
        assert refusal["message"] == (
            "Recording is unavailable: the media worker is at capacity (5 streams). Try again later."
        )
        assert not await database_sync_to_async(Recording.objects.exists)(), "a refused start leaves no recording"
        assert not bob_call.got(type="recording")
        await frames_grow(bob_call, alice_call, "audio")  # the call goes on undisturbed

        # With room for 6 it records; then Carol would cost 1 upload + 4 copies + 1 file: relay_full.
        settings.MEDIAWORKER_MAX_STREAMS = 6
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(lambda: bob_call.got(type="recording", active=True))
        await poll(lambda: tracks_written(2))
        assert serving(separate_worker).stream_count() == 6
        carol_call = RelayCaller(await enter(connect, carol), video=False)
        await poll(lambda: carol_call is not None and carol_call.got(type="error", code="relay_full"))
        assert serving(separate_worker).stream_count() == 6
        await frames_grow(alice_call, bob_call, "audio")
    finally:
        for caller in (alice_call, bob_call, carol_call):
            if caller is not None:
                await caller.hang_up()


class AutoCaller(Caller):
    """An audio-only browser in an `auto` room, telling offers from `server` apart as links.js
    does: the relay's follow its `relay-tracks`; the others are the recorder's (in a mesh)."""

    def __init__(self, browser: Browser, mode: str) -> None:
        self.mode = mode
        self.relay_pc: RTCPeerConnection | None = None
        self.recorder_pcs: list[RTCPeerConnection] = []
        self.upload: list[str] = []
        self._relay_offer_due = False
        super().__init__(browser, video=False)

    async def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] == "relay-tracks":
            self.upload, self._relay_offer_due = message["upload"], True
        elif message["type"] == "media-mode":
            self.mode = message["mode"]
            await self._close(mesh=self.mode == "relay")
        elif message["type"] == "offer" and message["from"] == "server":
            relays, self._relay_offer_due = self._relay_offer_due, False
            if not relays:
                await self._answer_recorder(message["sdp"])
            elif self.mode == "relay":
                await self._answer_relay(message["sdp"])
            # else: a late relay renegotiation after the move to a mesh: ignored

    async def _answer_recorder(self, sdp: str) -> None:
        pc = RTCPeerConnection()
        self.recorder_pcs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        await self.browser.send({"type": "answer", "to": "server", "sdp": pc.localDescription.sdp})

    async def _answer_relay(self, sdp: str) -> None:
        if self.relay_pc is None:
            self.relay_pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc = self.relay_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.mid in self.upload and transceiver.sender.track is None:
                transceiver.sender.replaceTrack(AudioStreamTrack())
                transceiver.direction = "sendonly"
        await pc.setLocalDescription(await pc.createAnswer())
        await self.browser.send({"type": "answer", "to": "server", "sdp": pc.localDescription.sdp})

    async def _close(self, mesh: bool) -> None:
        """Moving to the relay closes the mesh (the recorder's connection too); back, the relay's."""
        if mesh:
            pcs, self.recorder_pcs = self.recorder_pcs, []
        else:
            pcs, self.relay_pc = [self.relay_pc] if self.relay_pc else [], None
        for pc in pcs:
            await pc.close()

    async def hang_up(self) -> None:
        await super().hang_up()
        await self._close(mesh=True)
        await self._close(mesh=False)
        await self.browser.ws.disconnect()


async def auto_caller(connect: Connect, user: User) -> AutoCaller:
    browser = await connect(user)
    welcome = await browser.join()
    return AutoCaller(browser, welcome["room"]["active_mode"])


@pytest.mark.embedded_only
async def test_a_recording_goes_on_while_an_auto_room_moves_to_the_relay_and_back(
    connect: Connect, alice: User, bob: User, carol: User, auto_audio_room: Room
) -> None:
    alice_call = await auto_caller(connect, alice)
    bob_call = await auto_caller(connect, bob)
    carol_call: AutoCaller | None = None
    assert alice_call.mode == bob_call.mode == "mesh"
    try:
        # Two people, a mesh: the recorder connects to each.
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(lambda: bob_call.got(type="recording", active=True))
        await poll(lambda: tracks_written(2))
        worker = serving(None)
        session = worker.sessions["standup"]
        assert set(session.peers) == {alice_call.browser.peer_id, bob_call.browser.peer_id}

        # Carol makes three: the relay; the recording now copies its uploads, over no other connection.
        carol_call = await auto_caller(connect, carol)
        assert carol_call.mode == "relay"
        await poll(lambda: session.relay is not None and len(session.tapped) == 3)
        await poll(lambda: tracks_written(5))
        assert session.peers == {}
        await poll(lambda: not any(pc.connectionState == "connected" for pc in alice_call.recorder_pcs))

        # Carol leaves: a mesh again, and the recorder connects to Alice and Bob anew.
        await carol_call.hang_up()
        await poll(lambda: "standup" not in worker.relays)
        await poll(lambda: session.relay is None and len(session.peers) == 2)
        await poll(lambda: tracks_written(7))
        await poll(lambda: all(w.frames >= 50 for p in session.peers.values() for w in p.writers))

        await alice_call.browser.send({"type": "recording", "action": "stop"})
        await poll(recording_finished, timeout=90, interval=0.5)
    finally:
        for caller in (alice_call, bob_call, carol_call):
            if caller is not None:
                await caller.hang_up()
    await database_sync_to_async(check_auto_recording)()


def check_auto_recording() -> None:
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY, recording.error
    assert recording.duration is not None
    directory = selectors.recording_directory(recording)
    tracks = list(recording.tracks.all())
    assert len(tracks) == 7 and len({track.file for track in tracks}) == 7  # no file written over
    for track in tracks:
        assert track.end_offset is not None, track
        assert probe(directory / track.file)["kinds"] == ["audio"], track
    assert recording.file == "composite.ogg"
    length = stream_duration(directory / recording.file, "audio")
    assert abs(length - recording.duration) < 0.5, (length, recording.duration)
