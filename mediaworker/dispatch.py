"""How the aiortc backend (`mediaworker.backend`) reaches the media worker: record, relay, stop,
signals, and the embedded worker.

Embedded (no REDIS_URL) the worker is started on first need as a task in the serving
event loop. With REDIS_URL, `manage.py mediaworker` runs it; if none takes a room
within MEDIAWORKER_START_TIMEOUT, starting is refused (`MediaUnavailable`).
"""

import asyncio
import logging

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation

from mediaworker import worker as media_worker
from mediaworker.lease import get_leases
from signaling.media import MediaRefused, MediaUnavailable
from signaling.protocol import SERVER_PEER_ID, ProtocolError

log = logging.getLogger(__name__)


_embedded: asyncio.Task[None] | None = None
_embedded_worker: "media_worker.MediaWorker | None" = None
_background: set[asyncio.Task[bool]] = set()


def embedded_worker() -> "media_worker.MediaWorker | None":
    """The worker running in this process, if any (tests and debugging)."""
    return _embedded_worker


def ensure_embedded_worker() -> None:
    """Run a worker in this event loop (once per loop) unless a separate process serves."""
    global _embedded, _embedded_worker
    if settings.REDIS_URL:
        return
    loop = asyncio.get_running_loop()
    if _embedded is not None and not _embedded.done() and _embedded.get_loop() is loop:
        return
    _embedded_worker = media_worker.MediaWorker()
    # A task inherits the language of the socket that starts it; the worker serves everyone.
    with translation.override(settings.LANGUAGE_CODE):
        _embedded = loop.create_task(_embedded_worker.run())


async def stop_embedded_worker() -> None:
    """Cancel the embedded worker; it closes its peers and files first (tests, shutdown)."""
    global _embedded, _embedded_worker
    task, worker, _embedded, _embedded_worker = _embedded, _embedded_worker, None, None
    if task is not None and not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if worker is not None:
        await worker.wait_background()
    await asyncio.gather(*_background, return_exceptions=True)


async def start_worker(slug: str, recording_id: int) -> None:
    """Ask the worker serving `slug` (relaying it), or any, to record it, and wait for its answer.

    Raises MediaUnavailable if none answers within MEDIAWORKER_START_TIMEOUT, MediaRefused
    if it cannot carry the recording besides what it already records and relays.
    """
    ensure_embedded_worker()
    layer = get_channel_layer()
    assert layer is not None
    # The default prefix: channels-redis reads one list per prefix, and this process's consumers'
    # receive loop (which may hold the read lock) serves the default one.
    reply = await layer.new_channel()
    holder = await get_leases().holder(slug)
    event = {"type": "worker.start", "slug": slug, "recording_id": recording_id, "reply": reply}
    await layer.send(holder or media_worker.CONTROL_CHANNEL, event)
    try:
        async with asyncio.timeout(settings.MEDIAWORKER_START_TIMEOUT):
            answer = await layer.receive(reply)
    except TimeoutError:
        raise MediaUnavailable(slug) from None
    if answer.get("refusal"):
        raise MediaRefused(str(answer["refusal"]), str(answer.get("code") or "recording_unavailable"))


async def ensure_relay(slug: str, audio_only: bool) -> None:
    """Make sure a worker relays `slug` (it then offers to everyone admitted); MediaUnavailable if none.

    A relay room's admission, or an `auto` room moving to the relay. A worker already holding the
    room (recording an `auto` room's mesh, or carrying some of its pairs) is asked directly; it
    relays everyone, unless it already does."""
    await _to_room_worker(slug, {"type": "worker.relay", "slug": slug, "audio_only": audio_only})


async def relay_pair(slug: str, asking: str, partner: str, audio_only: bool) -> None:
    """Ask the worker serving mesh room `slug` (or any, if none does) to carry the media between
    `asking` and `partner`; it answers them itself. MediaUnavailable if no worker takes the room."""
    await _to_room_worker(
        slug, {"type": "worker.fallback", "slug": slug, "pair": [asking, partner], "audio_only": audio_only}
    )


async def _to_room_worker(slug: str, event: dict[str, object]) -> None:
    """`event` to the worker holding `slug`, or to whichever takes it (waiting until one does)."""
    holder = await get_leases().holder(slug)
    if holder is None:
        await _ask_worker(slug, event)
        return
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(holder, event)


async def stop_relay(slug: str) -> None:
    """Tell the worker relaying `slug` to close its links (an `auto` room went back to a mesh);
    a recording of the room goes on."""
    await tell_holder(slug, {"type": "worker.stop", "slug": slug, "what": "relay"})


async def _ask_worker(slug: str, event: dict[str, object]) -> None:
    """`event` to whichever worker takes `slug`; MediaUnavailable if none says so in time.

    The worker answers on `reply` once it serves the room. Polling its lease instead missed a
    lease held only briefly: a mesh room's refused pair leaves an idle relay that the worker lets
    go at its next lease renewal, and when that fell between two polls, a worker that had just
    answered `relay_full` was reported as missing (`relay_unavailable`)."""
    ensure_embedded_worker()
    layer = get_channel_layer()
    assert layer is not None
    reply = await layer.new_channel()  # the default prefix, as in start_worker
    await layer.send(media_worker.CONTROL_CHANNEL, {**event, "reply": reply})
    try:
        async with asyncio.timeout(settings.MEDIAWORKER_START_TIMEOUT):
            await layer.receive(reply)
    except TimeoutError:
        raise MediaUnavailable(slug) from None


async def stop_worker(slug: str, recording_id: int) -> None:
    """Tell the worker holding `slug` to stop; with none (it died), make the composite here."""
    if await tell_holder(slug, {"type": "worker.stop", "slug": slug, "what": "recording"}):
        return
    task = asyncio.get_running_loop().create_task(media_worker.composite_in_background(recording_id))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def tell_holder(slug: str, event: dict[str, object]) -> bool:
    """`event` to the worker holding `slug` (people joining and leaving it, `worker.stop`); False
    if none does: no worker serves the room, and a worker taking it later lists who is in it."""
    holder = await get_leases().holder(slug)
    if holder is None:
        return False
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(holder, event)
    return True


async def relay_to_worker(slug: str, sender: str, text: str) -> None:
    """A browser's signal to the reserved peer: to the worker recording or relaying the room."""
    holder = await get_leases().holder(slug)
    if holder is None:
        raise ProtocolError(
            "unknown_peer", f"No peer {SERVER_PEER_ID!r} in this room: it is not being recorded or relayed."
        )
    layer = get_channel_layer()
    assert layer is not None
    await layer.send(holder, {"type": "worker.signal", "slug": slug, "from": sender, "text": text})
