"""Track files survive a killed worker; old recordings are purged; refusals are clear."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from mediaworker import selectors, services
from mediaworker.models import Recording
from mediaworker.tests.test_recording import probe
from rooms.models import Room
from signaling import protocol

KILLED_WRITER = """
import asyncio, os, signal, sys
from pathlib import Path
from typing import Any
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from mediaworker.writer import TrackWriter

async def main():
    for kind, track in (("audio", AudioStreamTrack()), ("video", VideoStreamTrack())):
        writer = TrackWriter(Path(sys.argv[1]) / f"{kind}.mkv", kind)
        for _ in range(150 if kind == "audio" else 75):  # 3 s of audio, 2.5 s of video
            writer.write(await track.recv())
    os.kill(os.getpid(), signal.SIGKILL)  # no close(): no index, no flush

asyncio.run(main())
"""


def test_a_worker_killed_mid_recording_leaves_playable_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    for kind in ("audio", "video"):
        probed = probe(tmp_path / f"{kind}.mkv")
        assert probed["kinds"] == [kind]
        # Everything but the last unfinished cluster (at most CLUSTER_MS) is there.
        assert probed["duration"] > 1.0, probed
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / f"{kind}.mkv"), "-f", "null", "-"])
        assert decoded.returncode == 0


def make_recording(room: Room, user: User, days_ago: int) -> Recording:
    recording = services.start_recording(room, user, expected_streams=0)
    services.stop_recording(room)
    Recording.objects.filter(pk=recording.pk).update(started=timezone.now() - timedelta(days=days_ago))
    directory = selectors.recording_directory(recording)
    directory.mkdir(parents=True)
    (directory / "composite.ogg").write_bytes(b"OggS")
    return recording


@pytest.mark.django_db
def test_purge_deletes_recordings_past_retention_with_their_files(
    settings: object, tmp_path: Path, room: Room, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path  # type: ignore[attr-defined]
    settings.RECORDING_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    old = make_recording(room, alice, days_ago=31)
    recent = make_recording(room, alice, days_ago=2)

    with django_capture_on_commit_callbacks(execute=True):  # the files go once the deletion commits
        call_command("purgerecordings", stdout=open(os.devnull, "w"))  # noqa: SIM115

    assert list(Recording.objects.all()) == [recent]
    assert not selectors.recording_directory(old).exists()
    assert selectors.recording_directory(recent).exists()


@pytest.mark.django_db
def test_one_recording_at_a_time_and_the_stream_limit(settings: object, room: Room, alice: User) -> None:
    settings.MEDIAWORKER_MAX_STREAMS = 4  # type: ignore[attr-defined]
    with pytest.raises(services.RecordingRefused, match="capacity"):
        services.start_recording(room, alice, expected_streams=5)
    services.start_recording(room, alice, expected_streams=4)
    with pytest.raises(services.RecordingRefused, match="already"):
        services.start_recording(room, alice, expected_streams=0)
    services.stop_recording(room)
    with pytest.raises(services.RecordingRefused, match="not being recorded"):
        services.stop_recording(room)


def test_recording_messages_parse_and_render() -> None:
    assert protocol.parse_client_message('{"type":"recording","action":"start"}', None, 1024) == (
        protocol.RecordingControl(action="start")
    )
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.parse_client_message('{"type":"recording","action":"pause"}', None, 1024)
    assert error.value.code == "bad_field"
    assert protocol.render_recording(True, "Alice") == '{"type":"recording","active":true,"by":"Alice"}'
