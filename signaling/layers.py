"""The channel layers, made cheap per socket: embedded (no `REDIS_URL`) and over Redis.

`RedisChannelLayer` is channels-redis' core layer with an `Inbox` for each consumer's receive
buffer instead of an `asyncio.Queue`. `InMemoryChannelLayer`, the embedded one, is Channels'
in-memory layer with the same behaviour (capacity, 60 s message expiry, group expiry,
`ChannelFull`) and four costs removed:
- Channels' `receive` walks every channel and every group member to expire old messages, on
  every receive: a join storm of N sockets cost O(N^2) (18 % of the server's time while 3000
  sockets joined). Expiry is a clean-up with a 60 s horizon: once a second is enough.
- Each channel was an `asyncio.Queue` (four deques and an Event, about 3 KiB per idle socket);
  it is an `Inbox` here.
- `group_send` made a task per member and deep-copied the event for each one. Here it delivers
  in one loop and members share one copy: handlers read events and never change them.
- Under daphne a consumer waited on two queues, its socket's events and its channel, through
  Channels' `await_many_dispatch`: two pending tasks per socket, a new task for every message and
  an `asyncio.wait` per wake-up. `attach` delivers the channel's messages into the socket's own
  inbox instead, so the consumer reads one queue in a plain loop (`serve_from_one_inbox`).
"""

import asyncio
import logging
import secrets
import time
from copy import deepcopy
from typing import Any

import channels_redis.core
import redis.exceptions
from channels.exceptions import ChannelFull, StopConsumer
from channels.layers import BaseChannelLayer, get_channel_layer

from signaling.inbox import BoundedInbox, Inbox

log = logging.getLogger(__name__)

EXPIRY_SWEEP_SECONDS = 1.0


class InMemoryChannelLayer(BaseChannelLayer):  # type: ignore[misc]
    """One process's channel layer: channels and groups in dictionaries."""

    extensions = ["groups", "flush"]

    def __init__(
        self,
        expiry: int = 60,
        group_expiry: int = 86400,
        capacity: int = 100,
        channel_capacity: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity, **kwargs)
        self.channels: dict[str, Inbox] = {}
        self.groups: dict[str, dict[str, float]] = {}
        self.attached: dict[str, Inbox] = {}
        self.group_expiry = group_expiry
        self._next_sweep = 0.0

    def attach(self, channel: str, inbox: Inbox) -> None:
        """Put `channel`'s messages straight into `inbox`, which one consumer already reads."""
        self.attached[channel] = inbox

    def detach(self, channel: str) -> None:
        self.attached.pop(channel, None)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Queue `message` on `channel`; `ChannelFull` when it holds `capacity` messages already."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._deliver(channel, deepcopy(message))

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message on `channel`, waiting for one if need be."""
        self.require_valid_channel_name(channel)
        self._clean_expired()
        inbox = self.channels.get(channel)
        if inbox is None:
            inbox = self.channels[channel] = Inbox()
        try:
            _, message = await inbox.get()
        finally:
            if not inbox.qsize() and not inbox.reading:
                self.channels.pop(channel, None)
        return message  # type: ignore[no-any-return]

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}.inmemory!{secrets.token_hex(6)}"

    def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        attached = self.attached.get(channel)
        if attached is not None:
            if attached.qsize() >= self.get_capacity(channel):
                raise ChannelFull(channel)
            attached.put_nowait(message)  # read at once by a live consumer: nothing to expire
            return
        inbox = self.channels.get(channel)
        if inbox is None:
            inbox = self.channels[channel] = Inbox()
        if inbox.qsize() >= self.get_capacity(channel):
            raise ChannelFull(channel)
        inbox.put_nowait((time.monotonic() + self.expiry, message))

    # Groups extension

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        self.groups.setdefault(group, {})[channel] = time.time()

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        members = self.groups.get(group)
        if members is not None:
            members.pop(channel, None)
            if not members:
                self.groups.pop(group, None)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Give every member of `group` the message; a member whose channel is full misses it (logged)."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        shared = deepcopy(message)
        for channel in list(self.groups.get(group, ())):
            try:
                self._deliver(channel, shared)
            except ChannelFull:
                log.warning("channel %s is full: it misses a %s event of group %s", channel, message["type"], group)

    # Expiry and flush

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + EXPIRY_SWEEP_SECONDS
        for channel, inbox in list(self.channels.items()):
            # A channel whose messages sit unread for `expiry` seconds has no reader: drop it
            # from every group, as Channels does.
            while inbox.qsize() and inbox.peek()[0] < now:
                inbox.get_nowait()
                self._remove_from_groups(channel)
            if not inbox.qsize() and not inbox.reading:
                self.channels.pop(channel, None)
        oldest = time.time() - self.group_expiry
        for members in self.groups.values():
            for channel, joined in list(members.items()):
                if joined < oldest:
                    members.pop(channel, None)

    def _remove_from_groups(self, channel: str) -> None:
        for members in self.groups.values():
            members.pop(channel, None)

    async def flush(self) -> None:
        self.channels = {}
        self.groups = {}

    async def close(self) -> None:
        pass


async def serve_from_one_inbox(consumer: Any, scope: dict[str, Any], receive: Any, send: Any) -> bool:
    """Run `consumer` as `AsyncConsumer.__call__` does, reading socket and channel from one inbox.

    Only when the ASGI server's `receive` reads an `Inbox` (daphne, see daphne_compat) and the
    layer is one of these; returns False, having done nothing, otherwise. A lost Redis is raised
    here as it would have been from Channels' receive.
    """
    inbox = getattr(receive, "__self__", None)
    layer = get_channel_layer(consumer.channel_layer_alias)
    if not isinstance(inbox, Inbox) or not isinstance(layer, (InMemoryChannelLayer, RedisChannelLayer)):
        return False
    consumer.scope = scope
    consumer.channel_layer = layer
    consumer.channel_name = await layer.new_channel()
    consumer.base_send = send
    layer.attach(consumer.channel_name, inbox)
    try:
        while True:
            message = await inbox.get()
            if isinstance(message, LayerLost):
                # One error object for every consumer: without its old frames, or each raise
                # would add to one ever-growing traceback.
                raise message.error.with_traceback(None)
            await consumer.dispatch(message)
    except StopConsumer:
        pass
    finally:
        layer.detach(consumer.channel_name)
    return True


class LayerLost:
    """Put in attached inboxes when the process's reader loses Redis: the consumer raises `error`."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class _ReceiveBuffers(dict[str, Inbox]):
    """channels-redis' `receive_buffer` (a defaultdict of asyncio.Queue): a `BoundedInbox` per
    channel read through `receive()`, and the consumer's own inbox for an attached channel."""

    def __init__(self, capacity: int, attached: dict[str, Inbox]) -> None:
        super().__init__()
        self.capacity = capacity
        self.attached = attached

    def __missing__(self, channel: str) -> Inbox:
        attached = self.attached.get(channel)
        if attached is not None:
            return attached  # not stored: channels-redis deletes a buffer it finds empty
        inbox = self[channel] = BoundedInbox(self.capacity, channel)
        return inbox


class RedisChannelLayer(channels_redis.core.RedisChannelLayer):  # type: ignore[misc]
    """channels-redis' core layer, with one reader task for the consumers of this process.

    channels-redis has each waiting consumer take turns at a lock to read the process's Redis
    list, with two tasks, an `asyncio.wait` and an `asyncio.Queue` per consumer. Attached
    consumers (`attach`, under daphne) are served by one task that reads the list and puts each
    message in the consumer's own inbox. Other readers (a recording start's reply, the media
    worker process, tests) use `receive()`: while the reader runs it waits on the channel's
    buffer, which the reader fills; otherwise it is channels-redis' own, with `Inbox` buffers.
    """

    # What a lost Redis raises (a restart, a cut connection).
    LOST_REDIS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attached: dict[str, Inbox] = {}
        self.receive_buffer = _ReceiveBuffers(self.capacity, self.attached)
        self._reader: asyncio.Task[None] | None = None

    def attach(self, channel: str, inbox: Inbox) -> None:
        """Put `channel`'s messages straight into `inbox`, which one consumer already reads."""
        self.attached[channel] = inbox
        loop = asyncio.get_running_loop()
        if self._reader is None or self._reader.done() or self._reader.get_loop() is not loop:
            self._reader = loop.create_task(self._read_for_attached(self.non_local_name(channel)))

    def detach(self, channel: str) -> None:
        self.attached.pop(channel, None)

    async def receive(self, channel: str) -> dict[str, Any]:
        """While the process's reader runs it is the only one to read Redis: a `receive()` on a
        process channel (the worker's reply to a recording start) waits on its buffer."""
        if "!" not in channel or self._reader is None or self._reader.done():
            return await super().receive(channel)  # type: ignore[no-any-return]
        inbox = self.receive_buffer[channel]
        try:
            message = await inbox.get()
        finally:
            if inbox.empty() and not inbox.reading and self.receive_buffer.get(channel) is inbox:
                del self.receive_buffer[channel]
        if isinstance(message, LayerLost):
            raise message.error.with_traceback(None)
        return message  # type: ignore[no-any-return]

    async def _clean_receive_backup(self, index: int, channel: str) -> None:
        """channels-redis keeps each message it pops in a backup set until it is read, and removes
        it in a task that nobody awaits. When Redis went between the pop and that removal (a
        restart), the task's error was logged by asyncio as "Task exception was never retrieved",
        a traceback in the log. The message was delivered; the loss is a warning. A copy left in
        the backup (only if Redis kept its data) comes back once, as after a cancelled clean-up."""
        try:
            await super()._clean_receive_backup(index, channel)
        except self.LOST_REDIS as error:
            log.warning("channel layer lost Redis while clearing a delivered message's backup (%s)", error)

    async def _read_for_attached(self, process_channel: str) -> None:
        try:
            while self.attached:
                channels, message = await self.receive_single(process_channel)
                for channel in channels if isinstance(channels, list) else (channels,):
                    self.receive_buffer[channel].put_nowait(message)
        except Exception as error:
            # Redis is gone: every attached consumer closes with 1012 and its browser comes back.
            log.warning("channel layer reader lost Redis (%s): closing %d sockets", error, len(self.attached))
            lost = LayerLost(error)
            for inbox in list(self.attached.values()):
                inbox.put_nowait(lost)
            for inbox in list(self.receive_buffer.values()):
                if inbox.reading:  # a receive() waiting on its buffer
                    inbox.put_nowait(lost)
