"""Fixes to daphne's WebSocket protocol (autobahn), applied once at start-up.

- Close codes: daphne hands the application's close code to autobahn's `sendClose`, which
  accepts only 1000 and 3000-4999. RFC 6455 and the IANA registry give servers 1001 (going
  away), 1011 (internal error), 1012 (service restart) and 1013 (try again later); browsers use
  them to decide to reconnect, so we send those frames directly.
- Per-connection cost: for every new socket autobahn pretty-prints its ~60 options and the
  transport for debug log lines that are never written; they are formatted lazily instead.
- Per-frame cost: for every frame read and sent autobahn colours the names of its own function
  and the peer (`hltype`, `hlval`: `inspect` and click styling) for debug lines that are never
  written, 5 % of a relayed message's time; lazily too.
  daphne gives each application instance an `asyncio.Queue` (about 3 KiB idle); it gets an
  `Inbox` instead.
"""

import asyncio
from functools import partial
from pprint import pformat
from typing import Any

from signaling.inbox import Inbox

SERVER_CLOSE_CODES = frozenset({1001, 1011, 1012, 1013})


def allow_server_close_codes() -> None:
    """Patch daphne's WebSocket protocol once; a no-op under other ASGI servers."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:
        return
    original = WebSocketProtocol.serverClose
    if getattr(original, "allows_server_codes", False):
        return

    def server_close(self: Any, code: int | None = None) -> None:
        if code is not None and int(code) in SERVER_CLOSE_CODES:
            self.sendCloseFrame(code=int(code), isReply=False)
            return
        original(self, None if code is None else int(code))

    server_close.allows_server_codes = True  # type: ignore[attr-defined]
    WebSocketProtocol.serverClose = server_close


def format_debug_lines_lazily() -> None:
    """autobahn pretty-prints its options and transport for every new socket (15 % of daphne's
    time in a join storm), and colours names for every frame, for debug log lines that are never
    written; format them lazily."""
    try:
        import autobahn.twisted.websocket as autobahn_twisted
        import autobahn.websocket.protocol as autobahn_protocol
        from autobahn import util
    except ImportError:
        return
    autobahn_protocol.pformat = LazyFormat  # type: ignore[assignment]
    for module in (autobahn_protocol, autobahn_twisted):
        module.hltype = partial(LazyCall, util.hltype)  # type: ignore[attr-defined]
        module.hlval = partial(LazyCall, util.hlval)  # type: ignore[attr-defined]


def queue_events_in_inboxes() -> None:
    """daphne's `Server.create_application`, with an `Inbox` for the application's events."""
    try:
        from daphne.server import Server
    except ImportError:
        return
    if getattr(Server.create_application, "uses_inbox", False):
        return

    def create_application(self: Any, protocol: Any, scope: dict[str, Any]) -> Inbox | None:
        assert "application_instance" not in self.connections[protocol]
        inbox = Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        instance = self.application(scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        task = asyncio.ensure_future(instance, loop=asyncio.get_event_loop())
        self.connections[protocol]["application_instance"] = task
        return inbox

    create_application.uses_inbox = True  # type: ignore[attr-defined]
    Server.create_application = create_application


class LazyFormat:
    """`pformat(value)`, computed only if a log line that uses it is written."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return pformat(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class LazyCall:
    """`function(value)`, computed only if a log line that uses it is written."""

    __slots__ = ("function", "value")

    def __init__(self, function: Any, value: object) -> None:
        self.function = function
        self.value = value

    def __str__(self) -> str:
        return str(self.function(self.value))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _send_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]  # uvicorn's ClientDisconnected is an OSError
    try:
        from autobahn.exception import Disconnected  # daphne's WebSocket library
    except ImportError:
        pass
    else:
        errors.append(Disconnected)
    return tuple(errors)


# What sending on a socket that has just closed raises, under the ASGI servers we run.
SEND_ERRORS = _send_errors()
