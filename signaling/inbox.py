"""A queue with one reader, for the per-socket queues that sit idle most of their life.

Every open socket has two: the ASGI server's queue of WebSocket events for the consumer, and
the consumer's channel in the embedded channel layer. `asyncio.Queue` builds four deques and an
Event up front (about 3 KiB); an idle `Inbox` is one small object, its deque made only while
messages wait. Items stay queued until the reader takes them, so a reader cancelled while
waiting loses nothing.
"""

import asyncio
import logging
from collections import deque
from typing import Any

log = logging.getLogger(__name__)


class Inbox:
    """`put_nowait` and `await get()`, for exactly one reader at a time."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def __bool__(self) -> bool:
        return True  # daphne tests `if protocol.application_queue:` to mean "has an application"

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            if self._waiter is not None and not self._waiter.cancelled():
                raise RuntimeError("an Inbox has one reader; another is already waiting")
            # A reader whose task was just cancelled leaves a cancelled waiter until it runs
            # again: a new reader may take over, and the old one must not clear its waiter.
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        return self._pop()

    def peek(self) -> Any:
        """The oldest item, which must exist (check `qsize()` first)."""
        assert self._items
        return self._items[0]

    def get_nowait(self) -> Any:
        """Take the oldest item, which must exist (check `qsize()` first)."""
        assert self._items
        return self._pop()

    def _pop(self) -> Any:
        assert self._items is not None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    @property
    def reading(self) -> bool:
        """Whether a reader is waiting now."""
        return self._waiter is not None and not self._waiter.cancelled()


class BoundedInbox(Inbox):
    """An `Inbox` that keeps the newest `capacity` items, for channels-redis' receive buffers.

    channels-redis drops a channel's oldest message when its reader falls `capacity` behind
    (channels_redis#212); that is kept, and logged.
    """

    __slots__ = ("capacity", "channel")

    def __init__(self, capacity: int, channel: str = "") -> None:
        super().__init__()
        self.capacity = capacity
        self.channel = channel

    def put_nowait(self, item: Any) -> None:
        if self.qsize() >= self.capacity:
            log.warning("channel %s fell %d messages behind: its oldest is dropped", self.channel, self.capacity)
            self.get_nowait()
        super().put_nowait(item)
