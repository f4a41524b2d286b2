"""Fixes to daphne's WebSocket protocol (autobahn), applied once at start-up.

- Close codes: daphne hands the application's close code to autobahn's `sendClose`, which
  accepts only 1000 and 3000-4999. RFC 6455 and the IANA registry give servers 1001 (going
  away), 1011 (internal error), 1012 (service restart) and 1013 (try again later); browsers use
  them to decide to reconnect, so we send those frames directly.
- Per-connection cost: for every new socket autobahn pretty-prints its ~60 options and the
  transport for debug log lines that are never written; they are formatted lazily instead.
"""

from pprint import pformat
from typing import Any

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
    """autobahn pretty-prints its options and transport for every new socket, for debug log
    lines that are never written (15 % of daphne's time in a join storm); format them lazily."""
    try:
        import autobahn.websocket.protocol as autobahn_protocol
    except ImportError:
        return
    autobahn_protocol.pformat = LazyFormat  # type: ignore[assignment]


class LazyFormat:
    """`pformat(value)`, computed only if a log line that uses it is written."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return pformat(self.value)

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
