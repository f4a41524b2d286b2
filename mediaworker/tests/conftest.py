"""aiortc "browsers" that answer the media worker's offers through the real room socket."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import pytest
import pytest_asyncio
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from mediaworker import dispatch
from mediaworker.lease import reset_leases
from mediaworker.worker import MediaWorker
from signaling.tests.conftest import Browser, connect, fresh_channel_layer

__all__ = ["Caller", "connect", "fresh_channel_layer", "poll", "stream_duration"]


@pytest.fixture(autouse=True)
def recordings_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    reset_leases()


@pytest_asyncio.fixture(autouse=True)
async def separate_worker(settings: Any) -> AsyncIterator[MediaWorker | None]:
    """With REDIS_URL a worker runs as if it were `manage.py mediaworker` (embedded, signaling
    starts one itself). Either way it is stopped at the end, its background work finished."""
    worker = MediaWorker() if settings.REDIS_URL else None
    task = asyncio.get_running_loop().create_task(worker.run()) if worker else None
    yield worker
    await dispatch.stop_embedded_worker()
    if task is not None and worker is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.wait_background()


async def poll(condition: Callable[[], Any], timeout: float = 20, interval: float = 0.05) -> Any:
    """Wait until `condition()` (sync or async) is truthy; fail with a clear message at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def stream_duration(path: Path, kind: str) -> float:
    """When the last packet of `path`'s `kind` stream ends (PyAV)."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        ends = [
            float((packet.pts + (packet.duration or 0)) * packet.time_base)
            for packet in container.demux(stream)
            if packet.pts is not None and packet.time_base is not None
        ]
    return max(ends, default=0.0)


class Caller:
    """A participant's browser: the room socket plus an aiortc peer that answers the worker's
    offer with test tones and (unless audio-only) a test picture, sendonly, like call.js does."""

    def __init__(self, browser: Browser, video: bool = True) -> None:
        self.browser = browser
        self.video = video
        self.messages: list[dict[str, Any]] = []
        self.pc: RTCPeerConnection | None = None
        self._task = asyncio.get_running_loop().create_task(self._pump())

    def got(self, **fields: Any) -> bool:
        return any(all(message.get(k) == v for k, v in fields.items()) for message in self.messages)

    async def _pump(self) -> None:
        while True:
            # A long timeout: a communicator's receive timeout cancels the application.
            message = json.loads(await self.browser.ws.receive_from(timeout=3600))
            self.messages.append(message)
            await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] == "offer" and message["from"] == "server":
            await self._answer(message["sdp"])

    async def _answer(self, sdp: str) -> None:
        if self.pc is not None:
            await self.pc.close()
        self.pc = RTCPeerConnection()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        self.pc.addTrack(AudioStreamTrack())
        if self.video:
            self.pc.addTrack(VideoStreamTrack())
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.browser.send({"type": "answer", "to": "server", "sdp": self.pc.localDescription.sdp})

    async def hang_up(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if self.pc is not None:
            await self.pc.close()
