"""The embedded channel layer and the socket inbox: nothing a consumer is sent gets lost or reordered."""

import asyncio
import inspect
import logging
from pathlib import Path

import channels_redis.core
import pytest
from channels.exceptions import ChannelFull

from signaling import layers, services
from signaling.inbox import BoundedInbox, Inbox
from signaling.layers import InMemoryChannelLayer, LayerLost, RedisChannelLayer
from tests.live_server import free_port
from tests.test_multiprocess import RedisServer


async def test_messages_wait_in_order_for_a_reader_that_is_busy():
    inbox = Inbox()
    for number in range(3):
        inbox.put_nowait(number)
    assert [await inbox.get() for _ in range(3)] == [0, 1, 2]
    assert inbox.qsize() == 0


async def test_a_reader_cancelled_while_waiting_loses_no_message():
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("offer")
    reader.cancel()  # the socket closed in the same tick the message arrived
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert await inbox.get() == "offer"


async def test_an_inbox_refuses_a_second_reader_rather_than_starving_one():
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await inbox.get()
    inbox.put_nowait("answer")
    assert await first == "answer"


async def test_a_channel_message_reaches_its_reader_and_the_sender_keeps_its_own_copy():
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    sent = {"type": "peer.signal", "text": "hello"}
    await layer.send(channel, sent)
    sent["text"] = "changed later by the sender"
    assert await layer.receive(channel) == {"type": "peer.signal", "text": "hello"}
    assert layer.channels == {}  # nothing left behind once read


async def test_a_full_channel_refuses_more_with_channel_full():
    layer = InMemoryChannelLayer(capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "a"})
    await layer.send(channel, {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "c"})


async def test_a_member_with_a_full_channel_does_not_keep_the_event_from_the_others(caplog):
    layer = InMemoryChannelLayer(capacity=1)
    stuck, alive = await layer.new_channel(), await layer.new_channel()
    for channel in (stuck, alive):
        await layer.group_add("room.standup", channel)
    await layer.send(stuck, {"type": "earlier"})
    with caplog.at_level(logging.WARNING, logger="signaling.layers"):
        await layer.group_send("room.standup", {"type": "room.peer_joined", "peer_id": "p1"})
    assert await layer.receive(alive) == {"type": "room.peer_joined", "peer_id": "p1"}
    assert "misses a room.peer_joined event" in caplog.text


async def test_a_channel_nobody_reads_expires_and_leaves_its_groups(monkeypatch):
    layer = InMemoryChannelLayer(expiry=60)
    gone = await layer.new_channel()
    await layer.group_add("room.standup", gone)
    await layer.group_send("room.standup", {"type": "room.peer_joined"})
    now = layers.time.monotonic()
    monkeypatch.setattr(layers.time, "monotonic", lambda: now + 61)
    layer._next_sweep = 0.0
    layer._clean_expired()
    assert layer.channels == {}
    assert layer.groups.get("room.standup", {}) == {}


async def test_an_attached_inbox_gets_socket_and_channel_events_in_arrival_order():
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    inbox = Inbox()
    layer.attach(channel, inbox)
    await layer.group_add("room.standup", channel)
    inbox.put_nowait({"type": "websocket.receive", "text": "{}"})
    await layer.group_send("room.standup", {"type": "room.peer_left", "peer_id": "p2"})
    assert (await inbox.get())["type"] == "websocket.receive"
    assert await inbox.get() == {"type": "room.peer_left", "peer_id": "p2"}
    layer.detach(channel)
    await layer.send(channel, {"type": "late"})  # after the consumer left: queued, then expired
    assert inbox.qsize() == 0


async def test_a_new_reader_takes_over_from_one_just_cancelled():
    inbox = Inbox()
    old = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    old.cancel()  # channels-redis cancels its pending get() and starts another in the same tick
    new = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await old
    inbox.put_nowait("ice")
    assert await new == "ice"


async def test_a_reader_far_behind_loses_its_oldest_message_and_it_is_logged(caplog):
    inbox = BoundedInbox(2, "specific.abc!def")
    with caplog.at_level(logging.WARNING, logger="signaling.inbox"):
        for number in range(3):
            inbox.put_nowait(number)
    assert [inbox.get_nowait(), inbox.get_nowait()] == [1, 2]
    assert "specific.abc!def fell 2 messages behind" in caplog.text


@pytest.mark.redis_only
async def test_over_redis_attached_consumers_and_plain_readers_each_get_their_own_events(settings):
    layer = RedisChannelLayer(hosts=[settings.REDIS_URL])
    alice, bob, worker = [await layer.new_channel() for _ in range(3)]
    inboxes = {alice: Inbox(), bob: Inbox()}
    for channel, inbox in inboxes.items():
        layer.attach(channel, inbox)
    for channel in (alice, bob, worker):
        await layer.group_add("room.standup", channel)
    try:
        await layer.group_send("room.standup", {"type": "room.peer_joined", "peer_id": "p3"})
        await layer.send(bob, {"type": "peer.signal", "text": "offer"})
        # the worker reads through receive() while the attached ones are served by the reader task
        assert await asyncio.wait_for(layer.receive(worker), 5) == {"type": "room.peer_joined", "peer_id": "p3"}
        assert await asyncio.wait_for(inboxes[alice].get(), 5) == {"type": "room.peer_joined", "peer_id": "p3"}
        received = [await asyncio.wait_for(inboxes[bob].get(), 5) for _ in range(2)]
        assert received == [{"type": "room.peer_joined", "peer_id": "p3"}, {"type": "peer.signal", "text": "offer"}]
    finally:
        for channel in inboxes:
            layer.detach(channel)
        await layer.flush()
        await layer.close_pools()


async def test_an_attached_consumer_is_told_when_redis_is_unreachable():
    layer = RedisChannelLayer(hosts=[{"address": f"redis://127.0.0.1:{free_port()}", "socket_connect_timeout": 1}])
    channel = await layer.new_channel()
    inbox = Inbox()
    layer.attach(channel, inbox)
    lost = await asyncio.wait_for(inbox.get(), 10)
    assert isinstance(lost, LayerLost)
    assert isinstance(lost.error, services.BACKEND_ERRORS)


async def test_redis_lost_while_a_delivered_message_s_backup_is_cleared_is_a_warning_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Found by bench.chaos: channels-redis clears the backup copy of a message it has read in a
    task nobody awaits (`receive_single`); a Redis restart at that moment left "Task exception was
    never retrieved" and a traceback in the server's log."""
    assert "_clean_receive_backup" in inspect.getsource(channels_redis.core.RedisChannelLayer.receive_single)
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    layer = RedisChannelLayer(hosts=[{"address": redis_server.url, "socket_connect_timeout": 1}])
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "peer.signal", "text": "offer"})
        # Awaited directly (no wait_for, no other task): the clean-up task it starts has not run
        # yet when it returns, and the event loop is blocked while Redis stops.
        channels, message = await layer.receive_single(layer.non_local_name(channel))
        redis_server.stop()
        cleaners = list(layer.receive_cleaners)
        with caplog.at_level(logging.WARNING, logger="signaling.layers"):
            outcomes = await asyncio.wait_for(asyncio.gather(*cleaners, return_exceptions=True), 30)
    finally:
        redis_server.stop()
    assert (channels, message) == (channel, {"type": "peer.signal", "text": "offer"})
    assert len(cleaners) == 1
    assert outcomes == [None]  # nothing left for asyncio to log as a traceback
    assert "channel layer lost Redis while clearing a delivered message's backup" in caplog.text
