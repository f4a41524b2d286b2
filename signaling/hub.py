"""This process's live connections, and the chores that keep presence true.

The hub lets a signal reach a target served by the same process without a
channel-layer hop (the common case once nginx keeps a room on one process), and
runs the per-process loops: renewing presence leases, sweeping peers of dead
processes, reporting dropped peers whose resume window closed (in every process,
with or without Redis), closing every socket with 1012 when Redis is gone and
with 1001 on shutdown.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.exceptions
from django.conf import settings
from django.utils import translation

log = logging.getLogger(__name__)


class Connection(Protocol):
    async def deliver(self, text: str) -> None:
        """Send `text` to the browser as it is."""
        ...

    async def shut(self, code: int, text: str) -> None:
        """Send `text` (an error) and close with `code`."""
        ...

    async def refuse(self, code: int, reason: str, sentence: str) -> None:
        """Send the error `reason` with `sentence` in the connection's language, and close with `code`."""
        ...


class Hub:
    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        self.draining = False
        self._task: asyncio.Task[None] | None = None
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def admission_gate(self, concurrent: int) -> asyncio.Semaphore:
        """At most `concurrent` joins of this process talk to the database and Redis at once.

        When thousands of browsers arrive together (a restart), letting every join start its
        database hop and Redis calls at once makes each of them slow: the event loop falls so far
        behind that Redis replies miss their timeouts and read as an outage. Queued joins wait
        here, cheaply, with their socket already accepted."""
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:
            self._gate = (loop, asyncio.Semaphore(concurrent))
        return self._gate[1]

    def register(self, channel_name: str, connection: Connection) -> None:
        self.connections[channel_name] = connection

    def unregister(self, channel_name: str) -> None:
        self.connections.pop(channel_name, None)

    async def deliver(self, channel_name: str, text: str) -> bool:
        """Deliver in-process if the target lives here; False means use the channel layer."""
        connection = self.connections.get(channel_name)
        if connection is None:
            return False
        await connection.deliver(text)
        return True

    async def close_all(self, code: int, reason: str, sentence: str) -> None:
        """Close every connection with `code` after the error `reason`, its English `sentence`
        translated for each."""
        connections = list(self.connections.values())
        closing = (connection.refuse(code, reason, sentence) for connection in connections)
        await asyncio.gather(*closing, return_exceptions=True)

    def ensure_loop(self, interval: float, chore: Callable[[], Awaitable[None]]) -> None:
        """Run `chore` every `interval` seconds in the serving event loop (once per loop)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        # A task inherits the language of the socket that starts it; the chores serve everyone.
        with translation.override(settings.LANGUAGE_CODE):
            self._task = loop.create_task(self._run(interval, chore))

    async def _run(self, interval: float, chore: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.current_task()
        # A cancellation that reaches a chore inside a library may come out as another error
        # (redis-py's as a ConnectionError): the loop must end all the same, not go round again.
        while task is None or not task.cancelling():
            await asyncio.sleep(interval)
            try:
                await chore()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                # Redis restarting: the chore runs again next time; the heartbeat counts failures.
                log.warning("signaling chore could not reach Redis (%s)", error)
            except Exception:
                log.exception("signaling chore failed")


hub = Hub()
