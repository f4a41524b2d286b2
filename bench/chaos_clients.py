"""Simulated participants for `bench.chaos`: the signaling protocol over real WebSockets, no media.

Each participant is one person (one logged-in session) who joins and leaves rooms, chats,
sends `media-state`, knocks where the room asks it, and comes back with its resume token after
a drop, as `static/js/signaling.js` does. Everything it sees goes into the `Ledger`, which the
invariants (bench/chaos_checks.py) read.
"""

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from bench.chaos_cluster import RESUME_SECONDS, RoomSpec

CHAT_PREFIX = "chaos:"
# Closes after which a browser reconnects with its token (docs/protocol.md), 1006 = no close frame.
RESUMABLE = {1001, 1006, 1012, None}


@dataclass(eq=False)
class Stint:
    """One socket's time in a room, from `welcome` to its close."""

    client: int
    room: str
    peer_id: str
    welcomed_at: float
    resumed: bool
    ended_at: float | None = None
    normal_end: bool = False  # the participant hung up (1000) itself
    port: int = 0  # the web process serving it
    # When each of its own chat lines was sent, for the lines that came back to it: a line of
    # someone else acknowledged before one of these was sent must have reached it first.
    own_acked: list[float] = field(default_factory=list)
    received: set[str] = field(default_factory=set)


@dataclass
class ChatLine:
    """One chat line a participant sent; `acked_at`: when its echo came back to the sender."""

    token: str
    room: str
    sent_at: float
    stint: Stint
    acked_at: float | None = None


@dataclass
class Ledger:
    """What every participant did and saw."""

    stints: list[Stint] = field(default_factory=list)
    open: dict[tuple[str, str], Stint] = field(default_factory=dict)  # (room, peer_id) -> stint
    lines: dict[str, ChatLine] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)  # drop -> back in a room, seconds
    calm_recoveries: list[float] = field(default_factory=list)  # calm start -> back in a room
    began: float = field(default_factory=time.monotonic)

    def violate(self, what: str) -> None:
        self.violations.append(what)


@dataclass
class World:
    """What participants share: where the servers are, the phase of the run, the rooms."""

    ports: list[int]
    rooms: list[RoomSpec]
    ledger: Ledger
    phase: str = "chaos"  # chaos (churn and faults), calm (stay, come back), done (hang up)
    calm_since: float = 0.0


class Participant:
    def __init__(self, index: int, cookie: str, home: RoomSpec, world: World, rng: random.Random) -> None:
        self.index = index
        self.cookie = cookie
        self.home = home
        self.world = world
        self.ledger = world.ledger
        self.rng = rng
        self.moderator = home.knock and index == 0
        self.room = home.slug
        self.token = ""
        self.token_at = 0.0
        self.token_room = ""  # a token names its room: the browser presents it only there
        self.backoff = 0.2  # before reconnecting after a drop; doubles to 3 s
        self.dropped_at: float | None = None
        self.fault: str = ""  # set by the fault injector: "slow" or "vanish"
        self.ws: ClientConnection | None = None
        self.stint: Stint | None = None
        self.sent = 0
        self.in_room = False

    # The life of a participant ---------------------------------------------------------

    async def live(self) -> None:
        while self.world.phase != "done":
            try:
                outcome = await self.visit(self.room)
            except Exception as error:  # a frame it cannot read: say so, and go on living
                self.ledger.violate(f"client {self.index}: first message or frame unreadable: {error!r}")
                outcome = "dropped"
            if self.world.phase == "done":
                break
            await asyncio.sleep(self.after(outcome))

    def after(self, outcome: str) -> float:
        """Where to go after a visit that ended with `outcome`; returns how long to wait first."""
        if outcome in ("dropped", "unreachable", "going_away"):  # back to the same room, with the token
            wait = self.backoff * self.rng.uniform(0.5, 1.5)
            self.backoff = min(self.backoff * 2, 3.0)
            return wait
        self.backoff = 0.2
        if outcome == "vanished":
            return self.rng.uniform(0.5, 4)  # the page reloads
        if outcome in ("full", "refused") and self.world.phase == "calm":
            self.move(self.rng.choice([self.home, *self.world.rooms]).slug)
            return 1.2
        if self.world.phase == "chaos":
            wait = self.rng.uniform(0.5, 3)
            self.move(self.next_room())
            return wait + 0.2
        return 0.2

    def move(self, slug: str) -> None:
        """Open `slug`'s page afresh: a resume token names its room (and a hang-up is final),
        so the browser starts without one; the server would ignore another room's token."""
        if self.token and self.world.phase == "calm" and slug != self.token_room:
            self.ledger.counts["calm_moves_dropping_a_token"] += 1
        self.token, self.token_room, self.room = "", "", slug

    def resume_query(self, slug: str) -> str:
        """`?resume=<token>` when the token is for `slug` and young enough, as static/js/signaling.js does."""
        if self.token and self.token_room == slug and time.monotonic() - self.token_at < RESUME_SECONDS:
            return "?resume=" + _quote(self.token)
        return ""

    def next_room(self) -> str:
        if self.moderator or self.rng.random() < 0.6:
            return self.home.slug
        return self.rng.choice(self.world.rooms).slug

    async def visit(self, slug: str) -> str:
        """One connection: join (or knock), stay a while, leave; returns how it ended."""
        ports = self.world.ports
        port = self.rng.choice(ports)
        query = self.resume_query(slug)
        try:
            ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/ws/rooms/{slug}/{query}",
                additional_headers={"Cookie": f"sessionid={self.cookie}"},
                origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                open_timeout=30,
                ping_interval=None,  # browsers do not ping at the WebSocket level; `ping` messages do
                close_timeout=5,
                max_queue=64,
            )
        except (OSError, websockets.InvalidHandshake, TimeoutError):
            self.ledger.counts["connect_failures"] += 1
            return "unreachable"
        self.ws = ws
        try:
            return await self._in_connection(ws, slug, bool(query), port)
        except websockets.ConnectionClosed as closed:
            return self._closed(closed)
        finally:
            self._end_stint(normal=False)
            self.ws = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    async def _in_connection(self, ws: ClientConnection, slug: str, resuming: bool, port: int) -> str:
        first = await self._receive(ws, 40)
        if first is None:
            self.ledger.violate(f"client {self.index}: nothing from the server 40 s after connecting to {slug}")
            return "dropped"
        if first["type"] == "waiting":
            self.ledger.counts["knocks"] += 1
            first = await self._wait_for_admission(ws)
            if first is None:
                return "left"
        if first["type"] == "error":
            return await self._refused(ws, first)
        if first["type"] != "welcome":
            self.ledger.violate(f"client {self.index}: first message {first['type']!r}")
            return "left"
        token_age = time.monotonic() - self.token_at  # at admission: a knock may have taken a while
        self._welcomed(first, slug, port)
        if resuming and token_age < RESUME_SECONDS - 10 and not first.get("resumed"):
            self.ledger.violate(
                f"client {self.index}: a {token_age:.0f} s old resume token for {slug} was not honoured"
                f" ({self.world.phase})"
            )
        return await self._stay(ws)

    async def _wait_for_admission(self, ws: ClientConnection) -> dict[str, Any] | None:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and self.world.phase != "done":
            message = await self._receive(ws, 1)
            if message is not None and message["type"] in ("welcome", "error"):
                return message
        self.ledger.counts["knocks_unanswered"] += 1
        return None

    async def _refused(self, ws: ClientConnection, error: dict[str, Any]) -> str:
        code = error.get("code")
        sentence = error.get("message")
        self.ledger.refusals[str(code)] += 1
        if not code or not isinstance(sentence, str) or len(sentence) < 10:
            self.ledger.violate(f"client {self.index}: a refusal without a code and a sentence: {error}")
        with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
            await asyncio.wait_for(ws.recv(), 10)
        if code in ("going_away", "service_restarting"):
            return "going_away"
        return "full" if code == "room_full" else "refused"

    def _welcomed(self, welcome: dict[str, Any], slug: str, port: int) -> None:
        now = time.monotonic()
        self.token, self.token_at, self.token_room = welcome["resume"], now, slug
        stint = Stint(self.index, slug, welcome["peer_id"], now, bool(welcome.get("resumed")), port=port)
        self.stint = stint
        self.ledger.stints.append(stint)
        self.ledger.open[(slug, stint.peer_id)] = stint
        self.ledger.counts["joins"] += 1
        self.ledger.counts["resumed_joins" if stint.resumed else "new_joins"] += 1
        self.room = slug
        if self.dropped_at is not None:
            self.ledger.recoveries.append(now - self.dropped_at)
            self.dropped_at = None
        if self.world.phase == "calm":
            self.ledger.calm_recoveries.append(now - self.world.calm_since)
        self.in_room = True

    async def _stay(self, ws: ClientConnection) -> str:
        stay_until = time.monotonic() + self.rng.uniform(5, 40)
        next_action = time.monotonic() + self.rng.uniform(0.5, 3)
        while True:
            now = time.monotonic()
            if self.world.phase == "done":
                return await self._hang_up(ws)
            if self.fault == "vanish":
                self.fault = ""
                return self._vanish(ws)
            if self.fault == "slow":
                self.fault = ""
                await self._be_slow(ws)
                stay_until = max(stay_until, time.monotonic() + 6)
            if self.world.phase == "chaos" and now > stay_until and not self.moderator:
                return await self._hang_up(ws)
            if now >= next_action:
                await self._act(ws)
                next_action = now + self.rng.uniform(1.5, 5)
            message = await self._receive(ws, max(0.05, min(next_action, stay_until) - time.monotonic()))
            if message is not None:
                await self._handle(ws, message)

    async def _act(self, ws: ClientConnection) -> None:
        roll = self.rng.random()
        if roll < 0.45 and self.stint is not None:
            await self._chat(ws, self.stint)
        elif roll < 0.75:
            state = {"audio": self.rng.random() < 0.5, "video": False, "hand": self.rng.random() < 0.2, "screen": None}
            self.ledger.counts["media_states_sent"] += 1
            await ws.send(json.dumps({"type": "media-state", **state}))
        else:
            await ws.send(json.dumps({"type": "ping"}))

    async def _chat(self, ws: ClientConnection, stint: Stint) -> ChatLine:
        self.sent += 1
        token = f"{CHAT_PREFIX}{self.index}-{self.sent}-{self.rng.getrandbits(32):08x}"
        line = self.ledger.lines[token] = ChatLine(token, stint.room, time.monotonic(), stint)
        self.ledger.counts["chat_sent"] += 1
        await ws.send(json.dumps({"type": "chat", "text": token}))
        return line

    async def _handle(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        kind = message.get("type")
        self.ledger.counts["messages_received"] += 1
        if kind == "chat" and self.stint is not None:
            text = str(message.get("text"))
            self.stint.received.add(text)
            line = self.ledger.lines.get(text)
            if line is not None and line.stint is self.stint and line.acked_at is None:
                line.acked_at = time.monotonic()
                self.stint.own_acked.append(line.sent_at)
                self.ledger.counts["chat_acked"] += 1
        elif kind == "pong" and message.get("resume"):
            self.token, self.token_at = message["resume"], time.monotonic()
        elif kind == "knocking" and self.moderator:
            peer = message["peer"]["peer_id"]
            await ws.send(json.dumps({"type": "moderate", "action": "admit", "peer_id": peer}))
            self.ledger.counts["admitted"] += 1
        elif kind == "error":
            self.ledger.errors[str(message.get("code"))] += 1
            if not message.get("code") or len(str(message.get("message", ""))) < 10:
                self.ledger.violate(f"client {self.index}: an error without a code and a sentence: {message}")

    async def _be_slow(self, ws: ClientConnection) -> None:
        """Stop reading for a while (a frozen tab): the server must neither lose nor block on it."""
        self.ledger.faults["slow_client"] += 1
        await asyncio.sleep(self.rng.uniform(4, 12))

    def _vanish(self, ws: ClientConnection) -> str:
        """Gone without a close frame (a laptop lid shut, a dead network): the TCP connection is cut."""
        self.ledger.faults["vanished_client"] += 1
        self._end_stint(normal=False)
        self.dropped_at = time.monotonic()
        ws.transport.abort()
        return "vanished"

    async def _hang_up(self, ws: ClientConnection) -> str:
        # A last line, read back before leaving: every line acknowledged before it must be here too.
        if self.stint is not None:
            line = await self._chat(ws, self.stint)
            deadline = time.monotonic() + 10
            while line.acked_at is None and time.monotonic() < deadline:
                message = await self._receive(ws, max(0.05, deadline - time.monotonic()))
                if message is not None:
                    await self._handle(ws, message)
        self._end_stint(normal=True)
        self.ledger.counts["leaves"] += 1
        await ws.close(1000)
        return "left"

    def _closed(self, closed: websockets.ConnectionClosed) -> str:
        code = closed.rcvd.code if closed.rcvd is not None else None
        self.ledger.closes[str(code)] += 1
        if code == 1011:
            self.ledger.violate(f"client {self.index}: the server crashed its connection (1011)")
        if self.in_room and code in RESUMABLE | {4408}:
            self.dropped_at = self.dropped_at or time.monotonic()
        self._end_stint(normal=False)
        return "dropped" if code in RESUMABLE else "refused"

    def _end_stint(self, normal: bool) -> None:
        stint, self.stint = self.stint, None
        self.in_room = False
        if stint is None:
            return
        stint.ended_at = time.monotonic()
        stint.normal_end = normal
        self.ledger.open.pop((stint.room, stint.peer_id), None)

    async def _receive(self, ws: ClientConnection, timeout: float) -> dict[str, Any] | None:
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
        except TimeoutError:
            return None
        message: dict[str, Any] = json.loads(raw)
        return message


def _quote(token: str) -> str:
    from urllib.parse import quote

    return quote(token, safe="")
