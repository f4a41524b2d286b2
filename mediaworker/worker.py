"""The media worker: aiortc peers that record or relay rooms, driven through the channel layer.

It listens on `CONTROL_CHANNEL` (a room to start, taken by whichever worker gets it) and
on its own channel (signals from browsers, people joining and leaving, stop: signaling's
media backend, `mediaworker.backend`, sends them to the holder of the room's lease). While it
serves a room it holds the room's lease; on taking it, it lists who is in the room, so nobody
admitted before the lease was taken is missed, and offers to newcomers as they come. A room
may be relayed and recorded at once, by the one worker holding its lease: the recording then
copies the relay's uploads (`recorder.RoomSession.use_relay`). Embedded (no REDIS_URL) it is a task in the web
process's loop (`dispatch.ensure_embedded_worker`); otherwise the `manage.py mediaworker`
process.
"""

import asyncio
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.utils.translation import gettext_noop

from audioexchange.outages import BACKEND_ERRORS
from mediaworker import capacity, metrics, selectors, services
from mediaworker.lease import get_leases
from mediaworker.models import Recording
from mediaworker.recorder import RoomSession
from mediaworker.relay import RelaySession
from signaling import protocol
from signaling.groups import group_send
from signaling.presence import Peer, get_presence

log = logging.getLogger(__name__)
CONTROL_CHANNEL = "mediaworker.control"


class MediaWorker:
    """Records rooms on request; `run()` until cancelled, then everything is closed."""

    def __init__(self) -> None:
        layer = get_channel_layer()
        assert layer is not None
        self.layer = layer
        self.channel = ""
        self.sessions: dict[str, RoomSession] = {}
        self.relays: dict[str, RelaySession] = {}
        self.owners: dict[str, int | None] = {}  # each room's owner, for MEDIAWORKER_OWNER_SHARE
        self._watchdogs: dict[str, asyncio.Task[None]] = {}  # each recording's time and disk limits
        self._background: set[asyncio.Task[Any]] = set()
        self._in_flight: set[asyncio.Task[Any]] = set()  # events being handled (`_to_the_end`)
        # Rooms whose failed pair is being set up: not idle yet, though no pair is carried so far.
        self._adding_pairs: Counter[str] = Counter()
        metrics.WORKER_STREAMS.set_function(self.stream_count)

    def stream_count(self) -> int:
        """Streams this worker carries: received and written for recordings, received and sent by relays."""
        recorded = sum(session.stream_count() for session in self.sessions.values())
        return recorded + sum(relay.stream_count() for relay in self.relays.values())

    def room_streams(self, slug: str) -> int:
        """Streams room `slug` costs this worker (its relay and its recording)."""
        return sum(session.stream_count() for session in (self.sessions.get(slug), self.relays.get(slug)) if session)

    def usage(self, slug: str) -> capacity.Usage:
        """What this worker carries, in all, for room `slug`, and for the rooms of its owner."""
        owner = self.owners.get(slug)
        owned = sum(self.room_streams(room) for room, who in self.owners.items() if who == owner)
        return capacity.Usage(self.stream_count(), self.room_streams(slug), owned if owner is not None else None)

    def budget(self, slug: str) -> capacity.Budget:
        """What room `slug`'s sessions ask before taking more streams (MEDIAWORKER_*_SHARE)."""
        return lambda streams: capacity.shortfall(self.usage(slug), streams)

    def later(self, work: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self) -> None:
        """Wait for work started in the background (composites) to end."""
        await asyncio.gather(*self._background, return_exceptions=True)

    async def run(self) -> None:
        self.channel = await self.layer.new_channel("mediaworker.")
        log.info("media worker listening on %s and %s", CONTROL_CHANNEL, self.channel)
        try:
            await asyncio.gather(
                self._listen(CONTROL_CHANNEL), self._listen(self.channel), self._renew_leases(), self._purge_daily()
            )
        finally:
            await asyncio.shield(self._stop_everything())

    async def _stop_everything(self) -> None:
        await asyncio.gather(*self._in_flight, return_exceptions=True)  # half-handled events, to their end
        await self.shutdown()

    async def _to_the_end(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` to its end even if the worker is stopped meanwhile (SIGTERM cancels `run`).

        A peer connection whose close() is cancelled half-way can never be closed again: aiortc's
        next close() awaits the first one's future, for ever. Cancelling the handling of a hang-up
        (closing the room's links) and then closing everything at shutdown kept a SIGTERMed worker
        from exiting: the multiprocess tests' teardown hit its 20 s bound."""
        task = asyncio.get_running_loop().create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        await asyncio.shield(task)

    async def shutdown(self) -> None:
        """Stop every room this worker holds (recordings' composites still get made)."""
        for slug in [*self.sessions, *self.relays]:
            await self.stop_room(slug)

    async def _listen(self, channel: str) -> None:
        while True:
            event = await self.layer.receive(channel)
            try:
                await self._to_the_end(self.handle(event))
            except BACKEND_ERRORS as error:
                # Its room is let go or left as it was (see start_relay); asked again once it is back.
                log.warning(
                    "media worker: %s for room %s failed, Redis or the database is unreachable: %r",
                    event.get("type"),
                    event.get("slug"),
                    error,
                )
            except Exception:
                log.exception("media worker: %s failed", event.get("type"))

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(settings.MEDIAWORKER_LEASE_SECONDS / 3)
            for slug in [*self.sessions, *self.relays]:
                await get_leases().renew(slug, self.channel)
            for slug in [slug for slug, relay in self.relays.items() if relay.idle() and not self._adding_pairs[slug]]:
                await self._to_the_end(self.stop_room(slug))  # its pairs were refused, or their links failed

    async def _purge_daily(self) -> None:
        """Retention without a scheduler: at start, then every RETENTION_PURGE_INTERVAL_SECONDS (a day),
        recordings and chat lines past their retention are deleted (what `purgerecordings` does)."""
        while True:
            try:
                recordings, lines = await database_sync_to_async(services.purge_expired)()
                log.info("retention: deleted %d recording(s) and %d chat line(s)", recordings, lines)
            except Exception:
                log.exception("retention purge failed; trying again at the next interval")
            await asyncio.sleep(settings.RETENTION_PURGE_INTERVAL_SECONDS)

    async def handle(self, event: dict[str, Any]) -> None:
        kind, slug = event.get("type"), event.get("slug", "")
        if kind == "worker.start":
            await self.start_room(slug, int(event["recording_id"]), event.get("reply"))
            return
        if kind == "worker.relay":
            await self.start_relay(slug, bool(event["audio_only"]), event.get("reply"))
            return
        if kind == "worker.fallback":
            await self.relay_pair(event, slug, event["pair"])
            return
        relay, recording = self.relays.get(slug), self.sessions.get(slug)
        if relay is None and recording is None:
            return
        if kind == "worker.signal" and relay is not None:
            await relay.signal(event["from"], json.loads(event["text"]))  # the browser's one link to `server`
        elif kind == "worker.signal" and recording is not None:
            await recording.signal(event["from"], json.loads(event["text"]))
        elif kind == "worker.peer_joined":
            peer = await get_presence().find(slug, event["peer_id"])
            for session in (relay, recording):
                if peer is not None and session is not None:
                    await session.connect(peer)  # the relay first: a recording copies its uploads
        elif kind == "worker.peer_left":
            for session in (relay, recording):
                if session is not None:
                    await session.drop(event["peer_id"])
            if not await get_presence().members(slug):
                await self.stop_room(slug)  # nobody left to record or relay to
            elif relay is not None and relay.idle():
                await self.stop_relay(slug)  # a mesh room's last relayed pair is gone
        elif kind == "worker.stop" and event.get("what") == "recording":
            await self.stop_recording(slug)
        elif kind == "worker.stop" and event.get("what") == "relay":
            await self.stop_relay(slug)
        elif kind == "worker.stop":  # the room closed
            await self.stop_room(slug)

    async def start_room(self, slug: str, recording_id: int, reply: str | None = None) -> None:
        """Record room `slug` (copying its relay's uploads if this worker relays it), if the worker
        can carry it; the answer (empty, or the refusal's sentence) goes to `reply`."""
        if slug in self.sessions:
            await self._reply(reply, "")
            return
        if slug in self.relays and self.relays[slug].pairs is not None:
            # Each browser has one link to "server": those of a relayed pair are the relay's.
            await self._reply(reply, RELAYED_PAIRS_REFUSAL)
            return
        if not await self._hold(slug):
            holder = await get_leases().holder(slug)
            if holder is not None:  # another worker serves the room: it records it
                await self.layer.send(
                    holder, {"type": "worker.start", "slug": slug, "recording_id": recording_id, "reply": reply}
                )
            return
        recording = await database_sync_to_async(_running_recording)(recording_id)
        if recording is None:
            await self._let_go_unless_served(slug)
            await self._reply(reply, gettext_noop("This recording was stopped before it started."))
            return
        self.owners.setdefault(slug, recording.room.owner_id)
        session = RoomSession(slug, recording, self._send_text, self.budget(slug), self.later)
        relay = self.relays.get(slug)
        people = len(relay.links) if relay is not None else len(await get_presence().members(slug))
        refusal = _recording_refusal(self.usage(slug), session.expected_streams(people))
        if refusal is not None:
            await self._let_go_unless_served(slug)
            await self._reply(reply, refusal.message, refusal.code)
            return
        self.sessions[slug] = session
        self._watchdogs[slug] = asyncio.get_running_loop().create_task(self._watch(slug, session))
        log.info("recording room %s (recording %s)", slug, recording_id)
        if relay is not None:
            await session.use_relay(relay)
        else:
            await self._join_room(slug, session)
        await self._reply(reply, "")

    async def _watch(self, slug: str, session: RoomSession) -> None:
        """Stop the recording at RECORDING_MAX_SECONDS, or when the disk under MEDIA_ROOT runs
        below RECORDING_MIN_FREE_MB (looked at every `DISK_CHECK_SECONDS`)."""
        limit = float(settings.RECORDING_MAX_SECONDS)
        while self.sessions.get(slug) is session:
            left = session.started + limit - time.monotonic()
            if left <= 0:
                await self.end_recording(slug, "recording_time_limit", _time_limit_sentence(int(limit)))
                return
            if selectors.disk_running_out():
                await self.end_recording(slug, "recording_disk_full", DISK_FULL_STOP)
                return
            await asyncio.sleep(min(DISK_CHECK_SECONDS, left))

    async def end_recording(self, slug: str, reason: str, message: str) -> None:
        """Stop room `slug`'s recording on the server's own account, as the owner's stop would
        (files closed, then the composite), and tell the room why (`reason`, an error code)."""
        session = self.sessions.get(slug)
        if session is None:
            return
        log.warning("room %s: stopping recording %s (%s)", slug, session.recording_id, reason)
        await database_sync_to_async(services.end_recording)(session.recording_id)
        await self.stop_recording(slug)
        text = protocol.render_recording_stopped(reason, message)
        await group_send(slug, "room.recording", protocol.SERVER_PEER_ID, text)

    async def start_relay(self, slug: str, audio_only: bool, reply: str | None = None) -> None:
        """Relay room `slug`'s media, unless this or another worker already does; `reply` hears
        that the room is served as soon as it is (mediaworker.dispatch waits for that).

        Relaying some of its pairs (a mesh `auto` room that grew), relay everyone now."""
        if slug in self.relays:
            await self._reply(reply, "")
            await self.relays[slug].relay_everyone(await get_presence().members(slug))
            return
        if not await self._hold(slug) or slug in self.relays:
            # Another worker holds the room and relays it, or a request for it that came in
            # while we waited on the lease already set this room's relay up.
            await self._reply(reply, "")
            return
        # Taken before any await: a second request for the room meanwhile finds this session.
        relay = self.relays[slug] = RelaySession(slug, audio_only, self._send_text, self.budget(slug))
        await self._reply(reply, "")
        try:
            await self._note_owner(slug)  # before the session asks for streams (`budget` reads it)
            log.info("relaying room %s", slug)
            recording = self.sessions.get(slug)
            if recording is not None:  # an `auto` room moving to the relay mid-recording
                await recording.use_relay(relay)
            await self._join_room(slug, relay)
        except BACKEND_ERRORS:
            # Half set up (the people already in it never reached): let the room go, so the next
            # join's request sets it up whole rather than finding this one and relaying no one.
            await self._to_the_end(self.stop_relay(slug))
            raise

    async def relay_pair(self, event: dict[str, Any], slug: str, pair: list[str]) -> None:
        """A mesh room's pair whose direct connection failed: carry their media (`pair[0]` asked)."""
        reply = event.get("reply")
        first, second = [await get_presence().find(slug, peer_id) for peer_id in pair]
        if first is None or second is None:
            await self._reply(reply, "")
            return  # one of them left meanwhile
        if slug in self.sessions:
            message = (
                f"The direct connection to {second.name} failed, and the relay cannot carry it "
                "while this room is being recorded. Ask the room's owner to stop recording, or try another network."
            )
            await self._send_text(first.channel_name, protocol.render_error("relay_unavailable", message))
            await self._reply(reply, "")
            return
        if slug not in self.relays and not await get_leases().acquire(slug, self.channel):
            # Another worker serves the room (two requests raced on the control channel).
            holder = await get_leases().holder(slug)
            if holder is not None and holder != self.channel:
                await self.layer.send(holder, event)  # with `reply`: the holder answers it
            else:
                await self._reply(reply, "")
            return
        # The lease renewal lets an idle pairs-only relay go; until the pair is added this one has
        # none, and the owner lookup below is an await (the fuzzer saw the room taken away there).
        self._adding_pairs[slug] += 1
        try:
            await self._carry_pair(event, slug, first, second)
        finally:
            self._adding_pairs[slug] -= 1
            if not self._adding_pairs[slug]:
                del self._adding_pairs[slug]

    async def _carry_pair(self, event: dict[str, Any], slug: str, first: Peer, second: Peer) -> None:
        # Both sides of a failed pair ask at once: the second request, arriving while the first
        # waited on the lease, finds the first's session instead of making one that replaces it.
        if slug not in self.relays:
            self.relays[slug] = RelaySession(
                slug, bool(event["audio_only"]), self._send_text, self.budget(slug), pairs_only=True
            )
            log.info("relaying pairs of mesh room %s", slug)
            await self._note_owner(slug)  # before the session asks for streams (`budget` reads it)
        relay = self.relays.get(slug)
        if relay is None:  # everyone left while the owner was looked up: the room was let go
            await self._reply(event.get("reply"), "")
            return
        # The signaling waits for this word, not for the lease: refused with no other pair to carry,
        # the session stays idle only until the next lease renewal, which may let the room go
        # before a poll of the lease would have seen it held (then: "no media worker is running").
        await self._reply(event.get("reply"), "")
        await relay.add_pair(first, second)

    async def _hold(self, slug: str) -> bool:
        """True if this worker holds room `slug`'s lease (already, or taken now)."""
        return slug in self.sessions or slug in self.relays or await get_leases().acquire(slug, self.channel)

    async def _note_owner(self, slug: str) -> None:
        if slug not in self.owners:
            self.owners[slug] = await database_sync_to_async(selectors.room_owner_id)(slug)

    async def _reply(self, reply: str | None, refusal: str, code: str = "") -> None:
        if reply:
            await self._send_to_web(reply, {"type": "worker.reply", "refusal": refusal, "code": code})

    async def _send_to_web(self, channel: str, message: dict[str, Any]) -> None:
        """Send to a socket or a request of a web process; dropped if that process is gone.

        A killed web process's inbox fills with its rooms' messages until it expires, and a send
        to any of its channels raises ChannelFull meanwhile. Nobody reads it: its browsers are
        reconnecting elsewhere, and the work the message announced goes on for everyone else."""
        try:
            await self.layer.send(channel, message)
        except ChannelFull:
            log.info("media worker: nobody reads %s any more (its web process is gone); message dropped", channel)

    async def _join_room(self, slug: str, session: RoomSession | RelaySession) -> None:
        # The lease is held: anyone admitted from now on is sent here (`worker.peer_joined`), and
        # anyone admitted before is listed; one in both is connected once (`connect` checks).
        for peer in await get_presence().members(slug):
            await session.connect(peer)

    async def _send_text(self, channel: str, text: str) -> None:
        await self._send_to_web(channel, {"type": "peer.signal", "text": text})

    async def stop_room(self, slug: str) -> None:
        """Close the room's peers and files and let go of the room; a recording then gets its composite."""
        await self.stop_recording(slug)
        await self.stop_relay(slug)

    async def stop_recording(self, slug: str) -> None:
        """Close the recording's files (the relay, if any, goes on); its composite is made in the background."""
        session = self.sessions.pop(slug, None)
        watchdog = self._watchdogs.pop(slug, None)
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
        if session is None:
            return
        session.detach()
        await self._let_go_unless_served(slug)
        self.later(self._finish_recording(session))

    async def _finish_recording(self, session: RoomSession) -> None:
        await session.stop()  # the files get what already arrived: a loaded writer lags behind
        if not await composite_in_background(session.recording_id):
            # Deleted while recording (with its room): what was written since goes too.
            await sync_to_async(shutil.rmtree, thread_sensitive=False)(session.directory, True)

    async def stop_relay(self, slug: str) -> None:
        """Close the relay's links; a recording of the room goes on with a connection per browser."""
        relay = self.relays.pop(slug, None)
        if relay is None:
            return
        await relay.stop()
        recording = self.sessions.get(slug)
        if recording is not None:  # an `auto` room back to a mesh mid-recording
            await recording.use_mesh(await get_presence().members(slug))
        await self._let_go_unless_served(slug)

    async def _let_go_unless_served(self, slug: str) -> None:
        if slug in self.sessions or slug in self.relays:
            return
        self.owners.pop(slug, None)
        await get_leases().release(slug, self.channel)
        log.info("stopped serving room %s", slug)


DISK_CHECK_SECONDS = 2.0  # a statvfs call: cheap
DISK_FULL_STOP = (
    "Recording stopped: the server is running out of disk space. What was recorded until now is kept; "
    "ask an operator to free some space before recording again."
)


def _time_limit_sentence(seconds: int) -> str:
    hours, minutes = divmod(seconds // 60, 60)
    if seconds % 60 or not seconds // 60:
        length = f"{seconds} seconds"
    elif minutes:
        length = f"{hours} h {minutes} min" if hours else f"{minutes} minutes"
    else:
        length = f"{hours} hours" if hours != 1 else "1 hour"
    return (
        f"Recording stopped: it reached {length}, the longest a recording may last here. The owner can start a new one."
    )


def _recording_refusal(usage: capacity.Usage, streams: int) -> services.RecordingRefused | None:
    """Why the worker cannot start a recording of `streams` more (its limits, the disk), or None."""
    short = capacity.shortfall(usage, streams)
    if short is not None:
        code, message = capacity.recording_refusal(short)
        return services.RecordingRefused(message, code)
    try:
        services.check_free_disk()
    except services.RecordingRefused as refusal:
        return refusal
    return None


# Replies in English, marked for translation: the web process translates them for the owner
# (signaling/recording.py), as the worker may be a process of its own.
RELAYED_PAIRS_REFUSAL = gettext_noop(
    "Recording is unavailable while the relay carries connections that failed in this room. "
    "Try again once those people have left or rejoined."
)


def _running_recording(recording_id: int) -> Recording | None:
    return Recording.objects.select_related("room").filter(pk=recording_id, status=Recording.Status.RECORDING).first()


def _finish(recording_id: int) -> bool:
    try:
        recording = Recording.objects.select_related("room").filter(pk=recording_id).first()
        if recording is None:
            return False
        if recording.status == Recording.Status.RECORDING:
            services.stop_recording(recording.room)  # the room closed or emptied
        services.composite_recording(recording_id)
        return True
    finally:
        connections.close_all()  # this thread's own; the test database must be droppable


async def composite_in_background(recording_id: int) -> bool:
    """ffmpeg in a thread of its own: minutes of CPU must not hold the shared sync thread.
    False if the recording was deleted meanwhile."""
    result: bool = await sync_to_async(_finish, thread_sensitive=False)(recording_id)
    return result
