"""Resource limits of the media worker, tried as an abuser would: a recording left running for
ever, a disk filling up, one room or one owner taking the whole worker. aiortc plays the
browsers, through the real room socket."""

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from mediaworker import dispatch, selectors
from mediaworker.models import Recording
from mediaworker.tests.conftest import Caller, poll
from mediaworker.tests.test_recording import probe, recording_finished, tracks_written
from mediaworker.tests.test_relay import RelayCaller, audio_relay_room, frames_grow, relay_room
from mediaworker.worker import MediaWorker
from rooms import services as room_services
from rooms.models import Room, RoomMode
from signaling.tests.conftest import Connect, enter

__all__ = ["audio_relay_room", "relay_room"]  # fixtures
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def audio_room(room: Room) -> Room:
    room.audio_only = True
    room.save(update_fields=["audio_only"])
    return room


@database_sync_to_async
def only_recording() -> Recording:
    return Recording.objects.get()


@pytest.mark.embedded_only  # aiortc media: as test_recording.py (tests/test_multiprocess_media.py with REDIS_URL)
async def test_a_recording_stops_at_recording_max_seconds_and_everyone_is_told_why(
    connect: Connect, settings: Any, alice: User, bob: User, audio_room: Room, separate_worker: MediaWorker | None
) -> None:
    settings.RECORDING_MAX_SECONDS = 3
    alice_call = Caller(await enter(connect, alice), video=False)
    bob_call = Caller(await enter(connect, bob), video=False)
    try:
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(lambda: tracks_written(2))
        for call in (alice_call, bob_call):
            await poll(partial(call.got, type="recording", active=False, reason="recording_time_limit"), timeout=15)
        stop = next(m for m in bob_call.messages if m.get("reason") == "recording_time_limit")
        assert stop["message"] == (
            "Recording stopped: it reached 3 seconds, the longest a recording may last here. "
            "The owner can start a new one."
        )
        assert await poll(recording_finished, timeout=60) == Recording.Status.READY
    finally:
        for call in (alice_call, bob_call):
            await call.hang_up()
    recording = await only_recording()
    assert recording.duration is not None and 3 <= recording.duration < 5, recording.duration
    composite = probe(selectors.recording_directory(recording) / recording.file)
    assert composite["kinds"] == ["audio"] and composite["duration"] > 1
    worker = dispatch.embedded_worker() or separate_worker
    assert worker is not None and worker.sessions == {}


async def test_no_recording_starts_when_the_disk_is_nearly_full(
    connect: Connect, settings: Any, alice: User, bob: User, audio_room: Room
) -> None:
    # Whatever this machine has free, ask for more: the check reads the real filesystem.
    settings.RECORDING_MIN_FREE_MB = selectors.free_disk_mb() + 1024
    alice_call = Caller(await enter(connect, alice), video=False)
    bob_call = Caller(await enter(connect, bob), video=False)
    try:
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(partial(alice_call.got, type="error", code="recording_disk_full"))
        refusal = next(m for m in alice_call.messages if m.get("code") == "recording_disk_full")
        assert "running out of disk space" in refusal["message"]
        assert not bob_call.got(type="recording")
        assert await database_sync_to_async(Recording.objects.count)() == 0
    finally:
        for call in (alice_call, bob_call):
            await call.hang_up()


@dataclass
class SmallDisk:
    """Where recordings go, and a way to fill that disk past RECORDING_MIN_FREE_MB (16 MB)."""

    root: Path
    fill: Callable[[], None]


def mount_tmpfs(path: Path, megabytes: int) -> bool:
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)]).returncode == 0
    except OSError:  # no mount(8)
        return False


@pytest.fixture
def small_disk(tmp_path: Path, settings: Any) -> Iterator[SmallDisk]:
    """A real 48 MB filesystem (tmpfs) that a file fills. Where mounting is not allowed (no
    CAP_SYS_ADMIN), the machine's own disk, and a floor raised above what it has free."""
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = mount_tmpfs(mount, megabytes=48)
    settings.MEDIA_ROOT = mount
    settings.RECORDING_MIN_FREE_MB = 16

    def fill() -> None:
        if mounted:
            (mount / "filler").write_bytes(b"\0" * (36 * 1024 * 1024))  # someone else fills the disk
        else:
            settings.RECORDING_MIN_FREE_MB = selectors.free_disk_mb() + 1024

    yield SmallDisk(mount, fill)
    if mounted:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.embedded_only  # aiortc media: as test_recording.py (tests/test_multiprocess_media.py with REDIS_URL)
async def test_a_running_recording_stops_cleanly_when_the_disk_fills_up(
    connect: Connect, settings: Any, alice: User, bob: User, audio_room: Room, small_disk: SmallDisk
) -> None:
    alice_call = Caller(await enter(connect, alice), video=False)
    bob_call = Caller(await enter(connect, bob), video=False)
    try:
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(partial(bob_call.got, type="recording", active=True))
        await poll(lambda: tracks_written(2))
        assert selectors.free_disk_mb() >= settings.RECORDING_MIN_FREE_MB
        small_disk.fill()
        assert selectors.free_disk_mb() < settings.RECORDING_MIN_FREE_MB
        for call in (alice_call, bob_call):
            await poll(partial(call.got, type="recording", active=False, reason="recording_disk_full"), timeout=15)
        assert await poll(recording_finished, timeout=60) == Recording.Status.READY
    finally:
        for call in (alice_call, bob_call):
            await call.hang_up()
    recording = await only_recording()
    directory = selectors.recording_directory(recording)
    for track in await database_sync_to_async(list)(recording.tracks.all()):
        assert track.end_offset is not None, "each file was closed"
        assert probe(directory / track.file)["duration"] > 0.5
    assert probe(directory / recording.file)["kinds"] == ["audio"]


@pytest.mark.embedded_only  # aiortc media: as test_recording.py (tests/test_multiprocess_media.py with REDIS_URL)
async def test_one_room_takes_at_most_its_share_of_the_relay_and_the_others_go_on(
    connect: Connect, settings: Any, alice: User, bob: User, carol: User, mallory: User, audio_relay_room: Room
) -> None:
    # Alice 1 stream, Bob 3 more (his upload, his copy to Alice, hers to him): 4. Carol would
    # cost 5 more: 9, within the worker's 10 but over the room's share of 5.
    settings.MEDIAWORKER_MAX_STREAMS = 10
    settings.MEDIAWORKER_ROOM_SHARE = 0.5
    settings.MEDIAWORKER_OWNER_SHARE = 1.0
    await database_sync_to_async(room_services.create_room)(
        slug="other", owner=mallory, mode=RoomMode.RELAY, audio_only=True
    )
    alice_call = RelayCaller(await enter(connect, alice), video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    carol_call = RelayCaller(await enter(connect, carol), video=False)
    mallory_call: RelayCaller | None = None
    try:
        await frames_grow(alice_call, bob_call, "audio")
        await poll(partial(carol_call.got, type="error", code="relay_room_full"))
        refusal = next(m for m in carol_call.messages if m.get("code") == "relay_room_full")
        assert refusal["message"] == (
            "This room already takes all the media relay gives one room (5 streams): "
            "nobody can see or hear you here. Try again when someone leaves."
        )
        assert not carol_call.got(type="offer")
        await frames_grow(bob_call, alice_call, "audio")  # the two in the call go on

        # The share is per room: the worker still takes someone in another room.
        mallory_call = RelayCaller(await enter(connect, mallory, slug="other"), video=False)
        await poll(partial(mallory_call.got, type="offer", **{"from": "server"}))
        assert not mallory_call.got(type="error")

        # Recording the room (2 files more: 6) would take it past its share too: its own code.
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(partial(alice_call.got, type="error", code="recording_room_full"))
        assert await database_sync_to_async(Recording.objects.count)() == 0
    finally:
        for caller in (alice_call, bob_call, carol_call, mallory_call):
            if caller is not None:
                await caller.hang_up()


@pytest.mark.embedded_only  # aiortc media: as test_recording.py (tests/test_multiprocess_media.py with REDIS_URL)
async def test_one_owners_rooms_together_take_at_most_their_share(
    connect: Connect, settings: Any, alice: User, bob: User, carol: User, mallory: User, audio_relay_room: Room
) -> None:
    # Alice's two rooms: 4 streams in one, then 1 in the other; Mallory's 3 more would make 8,
    # within the worker's 12 and the room's share, over the owner's share of 6.
    settings.MEDIAWORKER_MAX_STREAMS = 12
    settings.MEDIAWORKER_ROOM_SHARE = 1.0
    settings.MEDIAWORKER_OWNER_SHARE = 0.5
    await database_sync_to_async(room_services.create_room)(
        slug="second", owner=alice, mode=RoomMode.RELAY, audio_only=True
    )
    alice_call = RelayCaller(await enter(connect, alice), video=False)
    bob_call = RelayCaller(await enter(connect, bob), video=False)
    carol_call = RelayCaller(await enter(connect, carol, slug="second"), video=False)
    mallory_call = RelayCaller(await enter(connect, mallory, slug="second"), video=False)
    try:
        await frames_grow(alice_call, bob_call, "audio")
        await poll(partial(carol_call.got, type="offer", **{"from": "server"}))
        await poll(partial(mallory_call.got, type="error", code="relay_owner_full"))
        refusal = next(m for m in mallory_call.messages if m.get("code") == "relay_owner_full")
        assert "(6 streams)" in refusal["message"] and "owner" in refusal["message"]
        await frames_grow(bob_call, alice_call, "audio")
    finally:
        for caller in (alice_call, bob_call, carol_call, mallory_call):
            await caller.hang_up()


@pytest.mark.embedded_only  # aiortc media: as test_recording.py (tests/test_multiprocess_media.py with REDIS_URL)
async def test_deleting_a_room_while_it_is_recorded_leaves_no_files_behind(
    connect: Connect, alice: User, bob: User, audio_room: Room
) -> None:
    alice_call = Caller(await enter(connect, alice), video=False)
    bob_call = Caller(await enter(connect, bob), video=False)
    try:
        await alice_call.browser.send({"type": "recording", "action": "start"})
        await poll(lambda: tracks_written(2))
        directory = selectors.recording_directory(await only_recording())
        assert any(directory.iterdir())
        worker = dispatch.embedded_worker()
        assert worker is not None and "standup" in worker.sessions
        await database_sync_to_async(room_services.delete_room)(audio_room)
        await poll(partial(bob_call.got, type="error", code="room_closed"))
        await poll(lambda: worker.sessions == {})  # told by the room's closing, not by people leaving
    finally:
        for call in (alice_call, bob_call):
            await call.hang_up()
    await worker.wait_background()  # the files were closed and no composite made
    assert not directory.exists()
