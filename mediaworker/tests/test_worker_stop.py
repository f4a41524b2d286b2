"""A media worker stopped (SIGTERM cancels its `run`) while it handles an event lets that
handling end before it shuts down: a peer connection cancelled half-way through close() can
never be closed again (aiortc's next close() waits for the first for ever), which kept a
stopped worker process from exiting."""

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from channels.layers import get_channel_layer

from mediaworker.worker import CONTROL_CHANNEL, MediaWorker

# In-process, like the other worker tests; with REDIS_URL the worker process is tests/test_multiprocess_media.py.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded_only]


class ClosingWorker(MediaWorker):
    """A worker whose only event closes one real aiortc connection (as a hang-up closes a room's)."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        super().__init__()
        self.pc = pc
        self.closing = asyncio.Event()

    async def handle(self, event: dict[str, Any]) -> None:
        self.closing.set()
        await self.pc.close()


async def test_a_worker_stopped_while_closing_a_connection_closes_it_then_exits() -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())  # ICE gathered: close() has work to await
    worker = ClosingWorker(pc)
    running = asyncio.get_running_loop().create_task(worker.run())
    layer = get_channel_layer()
    assert layer is not None

    await layer.send(CONTROL_CHANNEL, {"type": "worker.peer_left", "slug": "standup", "peer_id": "bob"})
    await asyncio.wait_for(worker.closing.wait(), 10)
    running.cancel()  # what SIGTERM does
    await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 10)

    assert pc.connectionState == "closed"
    await asyncio.wait_for(pc.close(), 5)  # a later close() returns at once
