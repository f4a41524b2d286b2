"""Alice records her call with Bob through the real room socket; aiortc plays the browsers."""

import json
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts.models import User
from mediaworker import dispatch, selectors
from mediaworker.models import Recording, RecordingTrack
from mediaworker.tests.conftest import Caller, poll
from mediaworker.worker import MediaWorker
from rooms.models import Room
from signaling.tests.conftest import Connect, enter

pytestmark = pytest.mark.django_db(transaction=True)


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a file: its streams, and how long it plays (from its last packet)."""
    streams = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )
    packets = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    times = [float(line.strip(",")) for line in packets.stdout.split() if line.strip(",")]
    kinds = sorted(stream["codec_type"] for stream in json.loads(streams.stdout)["streams"])
    return {"kinds": kinds, "duration": max(times, default=0.0)}


@database_sync_to_async
def tracks_written(count: int) -> list[RecordingTrack]:
    tracks = list(RecordingTrack.objects.all())
    return tracks if len(tracks) >= count else []


@database_sync_to_async
def recording_finished() -> str:
    """The recording's status once its composite is made or failed; empty before."""
    recording = Recording.objects.first()
    done = recording is not None and recording.status in (Recording.Status.READY, Recording.Status.FAILED)
    return recording.status if done and recording else ""


@pytest.mark.embedded_only  # with REDIS_URL: tests/test_multiprocess_media.py, a real worker process
async def test_alice_records_her_call_and_only_she_can_download_it(
    connect: Connect,
    alice: User,
    bob: User,
    carol: User,
    mallory: User,
    room: Room,
    separate_worker: MediaWorker | None,
) -> None:
    alice_call = Caller(await enter(connect, alice))
    bob_call = Caller(await enter(connect, bob))
    carol_call: Caller | None = None
    try:
        await bob_call.browser.send({"type": "recording", "action": "start"})
        await poll(lambda: bob_call.got(type="error", code="forbidden"))

        await alice_call.browser.send({"type": "recording", "action": "start"})
        for call in (alice_call, bob_call):
            await poll(partial(call.got, type="recording", active=True, by="Alice A."))
        await poll(lambda: tracks_written(4))  # audio and video of Alice and of Bob

        # Carol joins while recording: her welcome says so, and the worker offers to her too.
        carol_browser = await connect(carol)
        welcome = await carol_browser.join()
        assert welcome["room"]["recording"] is True
        carol_call = Caller(carol_browser)
        await poll(lambda: tracks_written(6))

        worker = dispatch.embedded_worker() or separate_worker
        assert worker is not None
        peers = list(worker.sessions["standup"].peers.values())
        assert len(peers) == 3
        # Let some media arrive; the files' lengths are checked below.
        await poll(lambda: all(writer.frames >= 30 for peer in peers for writer in peer.writers), timeout=30)

        await alice_call.browser.send({"type": "recording", "action": "stop"})
        for listener in (alice_call, bob_call, carol_call):
            await poll(partial(listener.got, type="recording", active=False, by="Alice A."))
        await poll(recording_finished, timeout=90)
    finally:
        for caller in (alice_call, bob_call, carol_call):
            if caller is not None:
                await caller.hang_up()

    # Every connection the worker had is closed and forgotten.
    assert worker.sessions == {}
    assert worker.stream_count() == 0
    assert all(peer.closed and peer.pc.connectionState == "closed" for peer in peers)

    await database_sync_to_async(check_files_and_downloads)(alice, bob, mallory)


def check_files_and_downloads(alice: User, bob: User, mallory: User) -> None:
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.READY, recording.error
    assert recording.started_by == alice
    assert recording.duration and recording.duration > 0
    directory = selectors.recording_directory(recording)
    for track in recording.tracks.all():
        probed = probe(directory / track.file)
        assert probed["kinds"] == [track.kind], track
        assert probed["duration"] > 0.5, track
        assert track.end_offset is not None and track.end_offset > track.start_offset
    composite = probe(directory / recording.file)
    assert recording.file == "composite.webm"
    assert composite["kinds"] == ["audio", "video"]
    assert composite["duration"] > 0.5
    assert recording.size == (directory / recording.file).stat().st_size

    url = f"/recordings/{recording.pk}/file/"
    owner = Client()
    owner.force_login(alice)
    response = owner.get(url + "?download=1")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert content == (directory / recording.file).read_bytes()
    page = owner.get("/rooms/standup/recordings/")
    assert page.status_code == 200
    assert url.encode() in page.content

    for intruder in (bob, mallory):
        other = Client()
        other.force_login(intruder)
        assert other.get(url).status_code == 404
        assert other.get("/rooms/standup/recordings/").status_code == 404
    assert Client().get(url).status_code == 302  # to the login page
