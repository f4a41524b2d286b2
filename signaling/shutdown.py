"""Close sockets with 1001 when the server is told to stop.

daphne (Twisted) cancels every application on shutdown, which drops sockets
without a close frame (browsers see 1006). We wrap its SIGTERM handler: stop
admitting, wait a short drain, close every socket with 1001 "going away" so
browsers reconnect elsewhere at once, let the others hear `peer-left`, then hand
over to the server's own handler.
"""

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from signaling.hub import hub
from signaling.protocol import CloseCode

log = logging.getLogger(__name__)
# (code, English sentence): each socket gets the sentence in its own language.
GOING_AWAY = ("going_away", gettext_noop("The server is restarting; reconnecting you now."))
_installed = False


def install_drain_on_sigterm() -> None:
    """Wrap the current SIGTERM handler once, from inside the serving event loop."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return  # no server handler to hand over to (tests, or a server that ignores SIGTERM)
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        log.info("SIGTERM: draining %d sockets", len(hub.connections))
        loop.call_soon_threadsafe(lambda: loop.create_task(_drain_then(previous, signum, frame)))

    signal.signal(signal.SIGTERM, on_sigterm)


async def _drain_then(previous: Any, signum: int, frame: FrameType | None) -> None:
    try:
        await drain(settings.SIGNALING_SHUTDOWN_DRAIN_SECONDS)
    finally:
        handler: Callable[[int, FrameType | None], Any] = previous
        handler(signum, frame)


async def drain(delay: float, deadline: float = 3.0) -> None:
    """Refuse newcomers, wait `delay`, close everyone with 1001, wait for them to leave."""
    hub.draining = True
    await asyncio.sleep(delay)
    await hub.close_all(CloseCode.GOING_AWAY, *GOING_AWAY)
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while hub.connections and loop.time() < end:
        await asyncio.sleep(0.05)
