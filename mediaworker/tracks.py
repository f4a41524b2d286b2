"""One person's tracks written into files as their frames arrive, whichever path they come by.

A recording gets a person's media either from a receive-only connection of its own (a mesh
room, `peer.BrowserPeer`) or from the relay, which already receives every upload
(`relay.RelaySession.subscribe`). Both hand each track to `PersonTracks`. For each track a
reader takes frames as they arrive, noting when, and a writer encodes them (`TrackWriter`,
in a thread) behind it: a loaded machine makes the writer lag, not the reader, so a file
starts at its first frame's arrival and, when the track ends or the recording stops, the
writer still writes what arrived before (for at most `DRAIN_SECONDS`).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.audio.frame import AudioFrame
from av.frame import Frame
from av.packet import Packet
from av.video.frame import VideoFrame

from mediaworker.writer import TrackWriter

log = logging.getLogger(__name__)

# Called once per track, at its first frame: (kind, file, when it arrived) -> an id to close it with.
TrackOpened = Callable[[str, Path, float], Awaitable[int]]
# (that id, when the last written frame arrived); times are time.monotonic().
TrackClosed = Callable[[int, float], Awaitable[None]]
# The file for this person's next track of a kind: never one already written in this recording.
TrackPath = Callable[[str], Path]

DRAIN_SECONDS = 10.0
# Frames waiting for the writer (10 s of audio, 16 s of video); beyond, new ones are dropped
# and the file has a gap of that length rather than the worker growing without bound.
BACKLOG_FRAMES = 500

Arrival = tuple[float, Frame | Packet] | None  # None: the track ended


class PersonTracks:
    """Writes each track given to `record`; `close()` ends the reading and finishes the files."""

    def __init__(
        self, log_prefix: str, track_path: TrackPath, on_track_opened: TrackOpened, on_track_closed: TrackClosed
    ) -> None:
        self.log_prefix = log_prefix
        self._track_path = track_path
        self._opened = on_track_opened
        self._closed = on_track_closed
        self._readers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.Task[None]] = set()
        self.writers: list[TrackWriter] = []
        self.dropped = 0

    @property
    def writing(self) -> int:
        """Tracks being written now (what they cost the worker)."""
        return len(self._writers)

    def record(self, track: MediaStreamTrack) -> None:
        log.info("%s recording %s", self.log_prefix, track.kind)
        writer = TrackWriter(self._track_path(track.kind), track.kind)
        self.writers.append(writer)
        arrivals: asyncio.Queue[Arrival] = asyncio.Queue()
        self._start(self._readers, self._read(track, arrivals))
        self._start(self._writers, self._write(track.kind, arrivals, writer))

    async def close(self) -> None:
        """Stop reading; the files get what already arrived (up to DRAIN_SECONDS), then are closed."""
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if not self._writers:
            return
        _, late = await asyncio.wait(set(self._writers), timeout=DRAIN_SECONDS)
        for task in late:
            log.warning("%s: the writer is over %.0f s behind; its file ends here", self.log_prefix, DRAIN_SECONDS)
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _start(self, tasks: set[asyncio.Task[None]], work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _read(self, track: MediaStreamTrack, arrivals: "asyncio.Queue[Arrival]") -> None:
        try:
            while True:
                frame = await track.recv()
                if arrivals.qsize() >= BACKLOG_FRAMES:
                    self.dropped += 1
                    continue
                arrivals.put_nowait((time.monotonic(), frame))
        except MediaStreamError:
            pass
        finally:
            track.stop()  # a relay's copy: unsubscribed, so the relay stops queueing frames for it
            arrivals.put_nowait(None)

    async def _write(self, kind: str, arrivals: "asyncio.Queue[Arrival]", writer: TrackWriter) -> None:
        track_id: int | None = None
        last = time.monotonic()
        try:
            while (arrival := await arrivals.get()) is not None:
                arrived, frame = arrival
                if not isinstance(frame, AudioFrame | VideoFrame):
                    continue
                # Encoding is CPU work: a thread keeps the event loop (and signaling) responsive.
                await asyncio.to_thread(writer.write, frame)
                last = arrived
                if track_id is None and writer.opened:
                    track_id = await self._opened(kind, writer.path, arrived)
        except Exception:
            log.exception("%s writing %s failed", self.log_prefix, kind)
        finally:
            await asyncio.shield(self._finish_track(writer, track_id, last))

    async def _finish_track(self, writer: TrackWriter, track_id: int | None, last: float) -> None:
        await asyncio.to_thread(writer.close)
        if track_id is not None:
            await self._closed(track_id, last)
