"""A queue with one reader, for the per-socket queues that sit idle most of their life.

Every open socket has two: the ASGI server's queue of WebSocket events for the consumer, and
the consumer's channel in the embedded channel layer. `asyncio.Queue` builds four deques and an
Event up front (about 3 KiB); an idle `Inbox` is one small object, its deque made only while
messages wait. Items stay queued until the reader takes them, so a reader cancelled while
waiting loses nothing.
"""

import asyncio
from collections import deque
from typing import Any


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

    async def get(self) -> Any:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("an Inbox has one reader; another is already waiting")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
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
        return self._waiter is not None
