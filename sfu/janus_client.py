"""A small asyncio client for the Janus WebSocket API (https://janus.conf.meetecho.com/docs/rest.html).

Our own rather than a PyPI one: the Python clients there either make Python the media peer
(aiortc) or change their API every few months, and the part we need is small: JSON requests
matched to replies by `transaction`, events routed to handles, keepalives.

- `JanusConnection`: one long-lived WebSocket to one Janus (`connection_for` keeps one per URL
  per event loop, never one per browser). It reconnects with jittered exponential backoff.
- `Session` and `Handle`: a Janus session and a plugin handle on it. Each handle has its own
  event queue (`next_event`) for what Janus sends without being asked (webrtcup, media,
  hangup, the plugin's own events).
- Every request carries `apisecret`, waits at most `request_timeout`, and fails with a
  `JanusClientError` subclass: `JanusError` (Janus's code and reason), `JanusTimeout`,
  `JanusUnavailable` (not connected), `SessionLost`.

Janus destroys a session when its WebSocket closes (deploy/janus sets
`reclaim_session_timeout = 0`) or when it restarts, so a reconnect cannot bring sessions back:
every session of the lost connection is marked lost (`Session.lost`, `on_session_lost`
listeners, `SessionLost` from its requests and handles), and the layer above recreates its
rooms on a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

logger = logging.getLogger(__name__)

JANUS_SUBPROTOCOL = Subprotocol("janus-protocol")
JsonDict = dict[str, Any]


class JanusClientError(Exception):
    """Anything this client raises; catch this to handle every failure of a request."""


class JanusError(JanusClientError):
    """Janus (or its plugin) refused a request: `code` and `reason` are Janus's own."""

    def __init__(self, code: int, reason: str, request: str) -> None:
        super().__init__(f"Janus refused {request}: {reason} (Janus error {code}).")
        self.code = code
        self.reason = reason
        self.request = request


class JanusTimeout(JanusClientError):
    """Janus did not answer a request within its timeout."""


class JanusUnavailable(JanusClientError):
    """No connection to Janus (down, restarting, unreachable), or it closed before answering."""


class SessionLost(JanusClientError):
    """The session is gone (connection lost, Janus restarted, or it timed out): make a new one."""


@dataclass(frozen=True)
class ClientOptions:
    """Timings of a connection; the defaults suit production (tests shorten them)."""

    request_timeout: float = 10.0
    # Janus drops a session after `session_timeout` (60 s in deploy/janus) without a request.
    keepalive_interval: float = 25.0
    connect_timeout: float = 5.0
    reconnect_min_delay: float = 0.5
    reconnect_max_delay: float = 10.0


@dataclass
class _Pending:
    """A request waiting for its reply: the `ack` ends it unless an `event` is to follow."""

    future: asyncio.Future[JsonDict]
    wants_event: bool
    session_id: int | None


def _describe(payload: JsonDict) -> str:
    """A request's name for error messages: `create`, `attach`, `message create`."""
    body = payload.get("body")
    if isinstance(body, dict) and "request" in body:
        return f"{payload['janus']} {body['request']!r}"
    return str(payload["janus"])


def _raise_for_error(reply: JsonDict, request: str) -> None:
    """A Janus-level `error` reply, or a plugin's `error_code`, as a `JanusError`."""
    if reply.get("janus") == "error":
        error = reply.get("error") or {}
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "no reason given")), request)
    data = (reply.get("plugindata") or {}).get("data") or {}
    if "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "no reason given")), request)


class JanusConnection:
    """One WebSocket to one Janus, kept open: reconnects with backoff, sends keepalives."""

    def __init__(self, url: str, api_secret: str, options: ClientOptions | None = None) -> None:
        self.url = url
        self.options = options or ClientOptions()
        self._api_secret = api_secret
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, _Pending] = {}
        self._sessions: dict[int, Session] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.last_error = "not connected yet"
        # Times the connection came back after a loss (each loss ends every session).
        self.reconnects = 0
        self.on_session_lost: list[Callable[[Session], None]] = []

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Start connecting (and reconnecting) in the background; idempotent."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"janus {self.url}"),
                asyncio.create_task(self._keep_sessions_alive(), name=f"janus keepalive {self.url}"),
            ]

    async def close(self) -> None:
        """Stop reconnecting, close the socket, and end every session and waiting request."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._ws is not None:
            await self._ws.close()
        self._lose_everything("the client was closed")

    async def wait_connected(self, timeout: float) -> None:
        """Return once connected; `JanusUnavailable` (with the last error) after `timeout`."""
        self.start()
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise JanusUnavailable(
                f"Janus at {self.url} is unreachable ({self.last_error}); retried for {timeout:.1f} s."
            ) from None

    async def info(self, timeout: float | None = None) -> JsonDict:
        """Janus's `info` reply (answered even without the API secret)."""
        return await self.request({"janus": "info"}, timeout=timeout)

    async def create_session(self, timeout: float | None = None) -> Session:
        """A new Janus session on this connection (kept alive until destroyed or lost)."""
        reply = await self.request({"janus": "create"}, timeout=timeout)
        session = Session(self, int(reply["data"]["id"]))
        self._sessions[session.id] = session
        return session

    async def request(
        self,
        payload: JsonDict,
        *,
        wants_event: bool = False,
        timeout: float | None = None,
        session_id: int | None = None,
    ) -> JsonDict:
        """Send one request and return its reply (the `event` after an `ack` if `wants_event`).

        Adds `transaction` and `apisecret`. Raises `JanusError` on Janus's refusal,
        `JanusTimeout` after `timeout` (default `options.request_timeout`), `JanusUnavailable`
        when not connected, `SessionLost` when the connection drops under a session's request.
        """
        limit = self.options.request_timeout if timeout is None else timeout
        name = _describe(payload)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        await self.wait_connected(limit)
        transaction = secrets.token_hex(12)
        pending = _Pending(loop.create_future(), wants_event, session_id)
        self._pending[transaction] = pending
        try:
            if self._ws is None:
                raise JanusUnavailable(f"The connection to Janus at {self.url} closed before {name} was sent.")
            await self._ws.send(json.dumps({**payload, "transaction": transaction, "apisecret": self._api_secret}))
            async with asyncio.timeout_at(deadline):
                reply = await pending.future
        except TimeoutError:
            raise JanusTimeout(f"Janus at {self.url} did not answer {name} within {limit:.1f} s.") from None
        except WebSocketException as exc:
            raise JanusUnavailable(f"The connection to Janus at {self.url} closed during {name}: {exc}.") from exc
        finally:
            self._pending.pop(transaction, None)
        _raise_for_error(reply, name)
        return reply

    def forget_session(self, session: Session) -> None:
        """Stop routing messages and keepalives to `session`."""
        self._sessions.pop(session.id, None)

    async def _run(self) -> None:
        """Connect, read until the socket closes, wait a jittered backoff, and again."""
        delay = self.options.reconnect_min_delay
        ever_connected = False
        while True:
            try:
                async with connect(
                    self.url, subprotocols=[JANUS_SUBPROTOCOL], open_timeout=self.options.connect_timeout
                ) as ws:
                    self._ws = ws
                    if ever_connected:
                        self.reconnects += 1
                    ever_connected = True
                    delay = self.options.reconnect_min_delay
                    self._connected.set()
                    logger.info("janus %s: connected", self.url)
                    await self._read(ws)
                self.last_error = "Janus closed the connection"
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self._connected.is_set():
                logger.warning("janus %s: connection lost (%s)", self.url, self.last_error)
                self._connected.clear()
                self._ws = None
                self._lose_everything(f"the connection to Janus at {self.url} was lost ({self.last_error})")
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
            delay = min(delay * 2, self.options.reconnect_max_delay)

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                message = json.loads(raw)
            except ValueError:
                logger.warning("janus %s: ignored a frame that is not JSON", self.url)
                continue
            if not isinstance(message, dict):
                continue
            try:
                self._dispatch(message)
            except Exception:
                # One odd message must not end the reader (and with it every session).
                logger.exception("janus %s: could not route %r", self.url, message.get("janus"))

    def _dispatch(self, message: JsonDict) -> None:
        """A reply goes to its waiting request; anything else to its session's handle."""
        pending = self._pending.get(str(message.get("transaction")))
        if pending is not None:
            if message.get("janus") == "ack" and pending.wants_event:
                return
            if not pending.future.done():
                pending.future.set_result(message)
            return
        session = self._sessions.get(message.get("session_id", 0))
        if session is None:
            logger.debug("janus %s: dropped %s for no known session", self.url, message.get("janus"))
        elif message.get("janus") == "timeout":
            self.lose_session(session, f"Janus at {self.url} timed the session out")
        else:
            session.deliver(message)

    def lose_session(self, session: Session, reason: str) -> None:
        """Forget `session`, mark it lost, and tell the `on_session_lost` listeners."""
        self.forget_session(session)
        if session.lost.is_set():
            return
        session.mark_lost(reason)
        for listener in list(self.on_session_lost):
            try:
                listener(session)
            except Exception:
                logger.exception("janus %s: a session-lost listener failed", self.url)

    def _lose_everything(self, reason: str) -> None:
        for session in list(self._sessions.values()):
            self.lose_session(session, reason)
        for pending in self._pending.values():
            if not pending.future.done():
                error = SessionLost if pending.session_id is not None else JanusUnavailable
                pending.future.set_exception(error(f"No answer: {reason}."))
        self._pending.clear()

    async def _keep_sessions_alive(self) -> None:
        while True:
            await asyncio.sleep(self.options.keepalive_interval)
            sessions = [session for session in self._sessions.values() if not session.lost.is_set()]
            results = await asyncio.gather(*(session.keepalive() for session in sessions), return_exceptions=True)
            for session, result in zip(sessions, results, strict=True):
                if isinstance(result, Exception):
                    logger.warning("janus %s: keepalive of session %s failed: %s", self.url, session.id, result)


class Session:
    """A Janus session: it owns plugin handles and ends when Janus loses or destroys it."""

    def __init__(self, connection: JanusConnection, session_id: int) -> None:
        self.connection = connection
        self.id = session_id
        self.handles: dict[int, Handle] = {}
        self.lost = asyncio.Event()
        self.lost_reason = ""

    async def request(self, payload: JsonDict, *, wants_event: bool = False, timeout: float | None = None) -> JsonDict:
        """A request within this session; `SessionLost` once the session is gone."""
        self.check_alive()
        try:
            return await self.connection.request(
                {**payload, "session_id": self.id}, wants_event=wants_event, timeout=timeout, session_id=self.id
            )
        except JanusError as exc:
            if exc.code == 458:  # JANUS_ERROR_SESSION_NOT_FOUND: Janus restarted or timed it out.
                self.connection.lose_session(self, f"Janus no longer knows session {self.id}")
                raise SessionLost(str(exc)) from exc
            raise
        except JanusUnavailable as exc:
            # Without a connection Janus has already destroyed the session (no reclaiming).
            self.connection.lose_session(self, str(exc))
            raise SessionLost(f"Janus session {self.id} is gone: {exc}") from exc

    async def attach(self, plugin: str, timeout: float | None = None) -> Handle:
        """A new handle on `plugin`, e.g. `janus.plugin.videoroom`."""
        reply = await self.request({"janus": "attach", "plugin": plugin}, timeout=timeout)
        handle = Handle(self, int(reply["data"]["id"]), plugin)
        self.handles[handle.id] = handle
        return handle

    async def keepalive(self) -> None:
        """Tell Janus the session is in use (it is destroyed after `session_timeout` without)."""
        await self.request({"janus": "keepalive"})

    async def destroy(self) -> None:
        """End the session on Janus (its handles and their rooms' memberships end with it)."""
        try:
            await self.request({"janus": "destroy"})
        finally:
            self.connection.forget_session(self)
            self.mark_lost("the session was destroyed")

    def deliver(self, message: JsonDict) -> None:
        """Queue an unsolicited message on the handle it names (`sender`)."""
        handle = self.handles.get(message.get("sender", 0))
        if handle is not None:
            handle.events.put_nowait(message)

    def mark_lost(self, reason: str) -> None:
        """End the session here: waiting `next_event` calls and later requests raise `SessionLost`."""
        if self.lost.is_set():
            return
        self.lost_reason = reason
        self.lost.set()
        for handle in self.handles.values():
            handle.events.put_nowait(None)

    def check_alive(self) -> None:
        """Raise `SessionLost` if the session is gone."""
        if self.lost.is_set():
            raise SessionLost(f"Janus session {self.id} is gone: {self.lost_reason}.")


@dataclass(frozen=True)
class PluginReply:
    """A plugin's answer: its `data` and, for SDP exchanges, the `jsep`."""

    data: JsonDict
    jsep: JsonDict | None = None


@dataclass
class Handle:
    """A plugin handle: requests to the plugin, and its own queue of unsolicited events."""

    session: Session
    id: int
    plugin: str
    events: asyncio.Queue[JsonDict | None] = field(default_factory=asyncio.Queue)

    async def message(
        self, body: JsonDict, jsep: JsonDict | None = None, *, timeout: float | None = None
    ) -> PluginReply:
        """Send `body` to the plugin; a synchronous `success` or the `event` after an `ack`."""
        payload: JsonDict = {"janus": "message", "handle_id": self.id, "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        reply = await self.session.request(payload, wants_event=True, timeout=timeout)
        return PluginReply((reply.get("plugindata") or {}).get("data") or {}, reply.get("jsep"))

    async def trickle(self, candidate: JsonDict | None) -> None:
        """Pass one ICE candidate (`candidate`, `sdpMid`, `sdpMLineIndex`) to Janus; None = done."""
        payload: JsonDict = {"janus": "trickle", "handle_id": self.id}
        payload["candidate"] = candidate if candidate is not None else {"completed": True}
        await self.session.request(payload)

    async def next_event(self, timeout: float) -> JsonDict:
        """The next unsolicited message for this handle; `SessionLost`, or `JanusTimeout`."""
        self.session.check_alive()
        try:
            async with asyncio.timeout(timeout):
                message = await self.events.get()
        except TimeoutError:
            raise JanusTimeout(f"No event from Janus on handle {self.id} within {timeout:.1f} s.") from None
        if message is None:
            self.session.check_alive()
            raise SessionLost(f"Janus session {self.session.id} is gone.")
        return message

    async def detach(self) -> None:
        """Close the handle (leaving its room, hanging up its peer connection)."""
        try:
            await self.session.request({"janus": "detach", "handle_id": self.id})
        finally:
            self.session.handles.pop(self.id, None)


_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, JanusConnection]] = (
    weakref.WeakKeyDictionary()
)


def connection_for(url: str, api_secret: str, options: ClientOptions | None = None) -> JanusConnection:
    """This process's one connection to the Janus at `url` (per event loop), started on first use."""
    per_loop = _connections.setdefault(asyncio.get_running_loop(), {})
    connection = per_loop.get(url)
    if connection is None:
        connection = per_loop[url] = JanusConnection(url, api_secret, options)
        connection.start()
    return connection


async def close_connections() -> None:
    """Close this event loop's connections (at shutdown): their sessions end on Janus."""
    per_loop = _connections.pop(asyncio.get_running_loop(), {})
    await asyncio.gather(*(connection.close() for connection in per_loop.values()))
