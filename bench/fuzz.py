"""`python -m bench.fuzz`: generated garbage at a live server's room sockets, then a clean call.

Starts one daphne process on 127.0.0.1 (tests/live_server.py's `AppServer`, over a throwaway
PostgreSQL database) and sends it frames from a seeded generator, on several sockets at once:
mutated valid messages, wrong types, huge and deeply nested JSON, text that is not JSON, invalid
UTF-8, binary frames, while other sockets join, hang up, drop and resume. Each frame is followed
by a `ping`; what arrives before the `pong` is the frame's answer. Then two clean people exchange
a signal. Prints figures and checks:

- no socket closed with 1011 and no traceback in the server's log (no crashed consumer);
- every frame the protocol refuses got exactly one `error` with the code `signaling/protocol.py`
  gives it locally, and every `error` has a code documented in docs/protocol.md and a sentence;
- the only closes are the documented ones the frame asked for (1007 invalid UTF-8, 1009 over
  128 KiB, 4408 an older socket of a resumed peer);
- afterwards the server still relays: bob's offer reaches alice.

Bounded: `--frames` (default 100,000; `--short`: 10,000) and `--seconds`, whichever comes first.
Only ever 127.0.0.1. Results of a long run: docs/reliability.md.
"""

import argparse
import asyncio
import contextlib
import http.cookiejar
import json
import random
import re
import secrets
import string
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from signaling.protocol import Ping, ProtocolError, parse_client_message
from tests.live_server import PASSWORD, AppServer, Person, PostgresDatabase

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 64 * 1024  # SIGNALING_MAX_MESSAGE_BYTES (the default, as the server runs it here)
MAX_FRAME = 131072  # scripts/web.sh --websocket-max-message-size: daphne closes with 1009 above it
ANSWER_TIMEOUT = 15.0
FUZZERS = [Person(f"fuzzer{i}", f"Fuzzer {i}") for i in range(8)]
CLEAN = [Person("alice", "Alice"), Person("bob", "Bob")]
# The rate limits are not what is tested here: raised so that every frame is parsed.
SERVER_ENV = {
    "SIGNALING_RATE_LIMIT_PER_SECOND": "100000",
    "SIGNALING_RATE_LIMIT_BURST": "100000",
    "CHAT_RATE_PER_SECOND": "100000",
    "CHAT_BURST": "100000",
    "MEDIA_STATE_RATE_PER_SECOND": "100000",
    "MEDIA_STATE_BURST": "100000",
    # A valid `relay-fallback` is refused (`relay_full`) before the worker opens any connection.
    "MEDIAWORKER_MAX_STREAMS": "1",
}
# Closes a frame (or a resume) asks for, documented in docs/protocol.md: daphne (autobahn,
# failByDrop) drops the TCP connection of a frame that breaks RFC 6455 (invalid UTF-8, over
# its size limit) without a close frame, which a client sees as 1006; an older socket of a
# resumed peer gets 4408.
CLOSE_DROPPED, CLOSE_REPLACED = 1006, 4408
# The codes signaling/protocol.py's parser gives (services refuse valid messages with others).
PARSE_CODES = frozenset(
    {
        "bad_json",
        "bad_message",
        "unknown_type",
        "bad_field",
        "too_large",
        "too_deep",
        "binary_unsupported",
        "chat_invalid",
    }
)
BATCH = 25  # frames per ping
PING = '{"type":"ping"}'


def documented_codes() -> frozenset[str]:
    """Every `code` named in the first column of a table in docs/protocol.md, or as "`error` `code`"."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    codes = set(re.findall(r"error`? `([a-z][a-z_]+)`", text))
    for first_cell in re.findall(r"^\|([^|\n]+)\|", text, re.MULTILINE):
        codes.update(re.findall(r"`([a-z][a-z_]+)`", first_cell))
    return frozenset(codes)


@dataclass
class Frame:
    category: str
    data: str | bytes
    as_text: bool = True  # bytes sent in a text frame: not UTF-8
    expect_error: str | None = None  # the code signaling/protocol.py gives it
    expect_close: int | None = None
    pings: bool = False  # a valid `ping`, answered by a `pong`


@dataclass
class Figures:
    frames: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    refused_locally: int = 0  # frames the protocol module refuses: each must get its error
    answered_as_expected: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    joins: int = 0
    expected_closes: int = 0
    resumed: int = 0
    problems: list[str] = field(default_factory=list)
    tracebacks: int = 0
    relays_after: bool = False
    seconds: float = 0.0

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)
        else:
            self.problems[-1] = f"... and more; last: {text}"

    def failures(self, wanted_frames: int) -> list[str]:
        failed = list(self.problems)
        if self.closes[1011]:
            failed.append(f"{self.closes[1011]} sockets closed with 1011 (a crashed consumer)")
        if self.tracebacks:
            failed.append(f"{self.tracebacks} tracebacks in the server log")
        if self.frames < wanted_frames:
            failed.append(f"only {self.frames} of {wanted_frames} frames sent within the time bound")
        if not self.relays_after:
            failed.append("after the fuzzing, bob's offer did not reach alice")
        return failed


# Frames ------------------------------------------------------------------------------


class FrameMaker:
    """Seeded frames; `peers` are peer ids in the room (so a `to` is sometimes someone real)."""

    def __init__(self, rng: random.Random, peers: list[str]) -> None:
        self.rng = rng
        self.peers = peers
        self.makers = [
            (30, "mutated", self.mutated),
            (14, "wrong type", self.wrong_type),
            (10, "valid", self.valid_text),
            (8, "not json", self.not_json),
            (7, "json value", self.json_value),
            (8, "nested", self.nested),
            (6, "binary", self.binary),
            (5, "unicode", self.unicode),
            (3, "huge", self.huge),
            (0.15, "over 128 KiB", self.over_frame_limit),
            (0.3, "invalid utf-8", self.invalid_utf8),
        ]
        self.weights = [weight for weight, _, _ in self.makers]

    def make(self) -> Frame:
        _, category, maker = self.rng.choices(self.makers, self.weights)[0]
        frame: Frame = maker()
        frame.category = category
        if isinstance(frame.data, str) and frame.expect_close is None:
            frame.expect_error, frame.pings = local_verdict(frame.data)
        return frame

    def peer(self) -> str:
        return self.rng.choice(self.peers) if self.peers and self.rng.random() < 0.7 else self.text(1, 12)

    def text(self, low: int, high: int, alphabet: str = string.printable) -> str:
        return "".join(self.rng.choices(alphabet, k=self.rng.randint(low, high)))

    def valid(self) -> dict[str, Any]:
        rng = self.rng
        choices: list[dict[str, Any]] = [
            {"type": rng.choice(["offer", "answer"]), "to": self.peer(), "sdp": "v=0\r\n" + self.text(0, 200)},
            {"type": "ice", "to": self.peer(), "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}},
            {"type": "ice", "to": self.peer(), "candidate": None},
            {"type": "stats", "rtt_ms": rng.uniform(0, 500), "packet_loss": rng.random(), "path": "direct"},
            {"type": "chat", "text": self.text(0, 80)},
            {"type": "media-state", "audio": rng.random() < 0.5, "video": False, "hand": False, "screen": None},
            {"type": "moderate", "action": rng.choice(["mute", "remove", "admit"]), "peer_id": self.peer()},
            {"type": "moderate", "action": rng.choice(["lock", "unlock", "end"])},
            {"type": "recording", "action": rng.choice(["start", "stop"])},
            {"type": "relay-fallback", "peer_id": self.peer()},
        ]
        return rng.choice(choices)

    def valid_text(self) -> Frame:
        return Frame("", json.dumps(self.valid()))

    def any_value(self, depth: int = 0) -> Any:
        rng = self.rng
        roll = rng.randrange(9 if depth < 3 else 7)
        simple = [
            None,
            rng.random() < 0.5,
            rng.randint(-(2**70), 2**70),
            rng.choice([0.5, -1e308, 1e-9, float("inf"), 3.0]),
            self.text(0, 20),
            "",
            self.peer(),
        ]
        if roll < 7:
            return simple[roll]
        if roll == 7:
            return [self.any_value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {self.text(1, 8): self.any_value(depth + 1) for _ in range(rng.randint(0, 4))}

    def mutated(self) -> Frame:
        message = self.valid()
        for _ in range(self.rng.randint(1, 3)):
            self.mutate(message)
        text = json.dumps(message, allow_nan=True)
        if self.rng.random() < 0.2:  # cut the text or flip a character
            at = self.rng.randrange(len(text))
            text = text[:at] if self.rng.random() < 0.5 else text[:at] + self.rng.choice('{}[]",:\\x0') + text[at + 1 :]
        return Frame("", text)

    def mutate(self, message: dict[str, Any]) -> None:
        rng = self.rng
        names = list(message)
        how = rng.randrange(5)
        if how == 0 and names:
            del message[rng.choice(names)]
        elif how == 1:
            message[rng.choice(["from", "extra", "peer", "to", "sdp", "type", "__proto__"])] = self.any_value()
        elif how == 2 and names:
            message[rng.choice(names)] = self.any_value()
        elif how == 3:
            message["type"] = rng.choice(["offer", "ice", "chat", "ping", "pong", "welcome", "error", "", "OFFER", 7])
        else:
            name = rng.choice(names) if names else "type"
            message[name] = self.text(0, 3000, string.printable + "\u00e9\u4e2d\U0001f600\u0000\u202e")

    def wrong_type(self) -> Frame:
        message = self.valid()
        name = self.rng.choice(list(message))
        message[name] = self.rng.choice([None, True, 0, -1.5, [], {}, [message.get(name)], {"x": 1}, "0"])
        return Frame("", json.dumps(message))

    def not_json(self) -> Frame:
        samples = ["", " ", "{", "}", "null", "NaN", "{'type': 'ping'}", '{"type":"ping",}', "\u0000", "[]]"]
        return Frame("", self.rng.choice(samples) if self.rng.random() < 0.3 else self.text(1, 300))

    def json_value(self) -> Frame:
        return Frame("", json.dumps(self.any_value(), allow_nan=True))

    def nested(self) -> Frame:
        depth = self.rng.choice([15, 16, 17, 100, 999, 1000, 3000, 10_000, 40_000])
        opening, closing = self.rng.choice([("[", "]"), ('{"a":', "}"), ('{"type":"ice","to":"x","candidate":', "}")])
        inner = opening * depth + "1" + (closing * depth if self.rng.random() < 0.5 else "")
        if self.rng.random() < 0.3:  # inside a valid message's field
            inner = json.dumps({"type": "chat", "text": "x"})[:-1] + ',"extra":' + inner + "}"
        return Frame("", inner[: MAX_BYTES - 1])

    def binary(self) -> Frame:
        data = self.rng.randbytes(self.rng.randint(0, 2000))
        if self.rng.random() < 0.3:
            data = json.dumps(self.valid()).encode()
        return Frame("", data, as_text=False, expect_error="binary_unsupported")

    def unicode(self) -> Frame:
        message = self.valid()
        name = self.rng.choice([name for name in message if name != "type"] or ["type"])
        escapes = ["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "\\u202e", "\\ufeff", "\\uffff"]
        value = '"' + "".join(self.rng.choices(escapes, k=self.rng.randint(1, 4))) + '"'
        text = json.dumps({**message, name: "@@"}).replace('"@@"', value)
        return Frame("", text)

    def huge(self) -> Frame:
        size = self.rng.choice([MAX_BYTES - 200, MAX_BYTES + 10, MAX_FRAME - 100])
        message = {"type": "offer", "to": self.peer(), "sdp": "a" * size}
        if self.rng.random() < 0.5:
            message = {"type": "chat", "text": "\u00e9" * (size // 2)}  # two bytes each: a UTF-8 limit
        return Frame("", json.dumps(message, ensure_ascii=False))

    def over_frame_limit(self) -> Frame:
        return Frame("", '{"type":"chat","text":"' + "x" * MAX_FRAME + '"}', expect_close=CLOSE_DROPPED)

    def invalid_utf8(self) -> Frame:
        bad = self.rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"])
        data = b'{"type":"chat","text":"' + bad + b'"}'
        return Frame("", data, as_text=True, expect_close=CLOSE_DROPPED)


def local_verdict(text: str) -> tuple[str | None, bool]:
    """The error code signaling/protocol.py gives `text` (None: a message it accepts), and
    whether the message is a `ping` (the server answers it with a `pong`)."""
    try:
        message = parse_client_message(text, None, MAX_BYTES)
    except ProtocolError as error:
        return error.code, False
    return None, isinstance(message, Ping)


# Sockets ------------------------------------------------------------------------------


def login(server: AppServer, username: str) -> str:
    """Log in through the login form; return the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{server.url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    request = urllib.request.Request(  # noqa: S310 (the server this tool started, on 127.0.0.1)
        f"{server.url}/accounts/login/", data=urllib.parse.urlencode(form).encode(), headers={"Referer": server.url}
    )
    opener.open(request, timeout=10)
    cookies = {cookie.name: cookie.value for cookie in jar}
    return str(cookies["sessionid"])


class RoomSocket:
    """One person's socket in the fuzzed room, reopened when the server closes it."""

    def __init__(self, server: AppServer, cookie: str, slug: str, figures: Figures, codes: frozenset[str]) -> None:
        self.server, self.cookie, self.slug = server, cookie, slug
        self.figures, self.codes = figures, codes
        self.ws: ClientConnection | None = None
        self.peer_id = ""
        self.token = ""

    async def open(self, resume: str = "") -> dict[str, Any]:
        query = f"?resume={urllib.parse.quote(resume)}" if resume else ""
        self.ws = await websockets.connect(
            f"ws://127.0.0.1:{self.server.port}/ws/rooms/{self.slug}/{query}",
            additional_headers={"Cookie": f"sessionid={self.cookie}"},
            origin=self.server.url,  # type: ignore[arg-type]
            open_timeout=30,
            max_size=None,
        )
        welcome = await self.until(lambda message: message["type"] == "welcome")
        self.peer_id, self.token = welcome["peer_id"], welcome["resume"]
        self.figures.joins += 1
        self.figures.resumed += bool(welcome["resumed"])
        return welcome

    async def until(self, done: Any, collect: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Messages up to the first for which `done` holds; errors on the way go to `collect`
        (or are checked as unasked)."""
        assert self.ws is not None
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while True:
                message = json.loads(await self.ws.recv())
                if done(message):
                    return message
                if message.get("type") != "error":
                    continue
                if collect is None:
                    self.note_error(message, "unasked")
                else:
                    collect.append(message)

    def note_error(self, message: dict[str, Any], context: str) -> None:
        self.figures.errors[message.get("code", "?")] += 1
        if message.get("code") not in self.codes or len(message.get("message") or "") < 10:
            self.figures.problem(f"undocumented or wordless error ({context}): {message}")

    def count(self, frames: list[Frame]) -> None:
        self.figures.frames += len(frames)
        for frame in frames:
            self.figures.by_category[frame.category] += 1
            self.figures.refused_locally += frame.expect_error is not None

    async def send(self, frames: list[Frame]) -> None:
        """Send `frames`, then a ping; check the errors that come before the pong, in order.

        Frames the protocol module refuses must get exactly their error, in order; valid ones
        may get a service's refusal (other codes), or nothing."""
        assert self.ws is not None
        self.count(frames)
        errors: list[dict[str, Any]] = []
        try:
            for frame in frames:
                await self.ws.send(frame.data, text=frame.as_text)
            await self.ws.send(PING)
            for _ in range(1 + sum(frame.pings for frame in frames)):
                await self.until(lambda message: message["type"] == "pong", errors)
        except ConnectionClosed as closed:
            await self.closed(closed, frames[-1])
            return
        except TimeoutError:
            self.figures.problem(f"no pong within {ANSWER_TIMEOUT:.0f} s after {len(frames)} frames")
            await self.reopen()
            return
        self.check_answers(frames, errors)

    def check_answers(self, frames: list[Frame], errors: list[dict[str, Any]]) -> None:
        for error in errors:
            self.note_error(error, "an answer")
        expected = [frame.expect_error for frame in frames if frame.expect_error is not None]
        got = [error.get("code") for error in errors if error.get("code") in PARSE_CODES]
        closing = [frame for frame in frames if frame.expect_close is not None]
        if closing:
            self.figures.problem(f"a {closing[0].category} frame was answered, not closed ({closing[0].data[:80]!r})")
        if got == expected:
            self.figures.answered_as_expected += len(frames)
            return
        for frame, code in zip([f for f in frames if f.expect_error], got + [None] * len(expected), strict=False):
            if code != frame.expect_error:
                self.figures.problem(
                    f"{frame.category} frame {str(frame.data)[:120]!r}: {code}, not {frame.expect_error}"
                )
                break
        self.figures.answered_as_expected += len(frames) - 1

    async def closed(self, closed: ConnectionClosed, frame: Frame) -> None:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
        self.figures.closes[code] += 1
        if code == frame.expect_close:
            self.figures.answered_as_expected += 1
            self.figures.expected_closes += 1
        else:
            self.figures.problem(f"closed with {code} after a {frame.category} frame {str(frame.data)[:120]!r}")
        await self.reopen()

    async def reopen(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.open()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def send_some(person: RoomSocket, maker: FrameMaker, count: int) -> None:
    """`count` frames in batches; a frame that must close the socket goes alone."""
    batch: list[Frame] = []
    for _ in range(count):
        frame = maker.make()
        if frame.expect_close is not None:
            await person.send([frame])
            continue
        batch.append(frame)
        if len(batch) == BATCH:
            await person.send(batch)
            batch = []
    if batch:
        await person.send(batch)


async def fuzz_socket(person: RoomSocket, maker: FrameMaker, stop: "Bounds") -> None:
    while stop.more():
        await send_some(person, maker, BATCH)


async def churn(person: RoomSocket, maker: FrameMaker, stop: "Bounds", rng: random.Random) -> None:
    """Join, a few frames, then hang up, drop, resume (on the old socket or a new one)."""
    while stop.more():
        await send_some(person, maker, rng.randint(0, 2 * BATCH))
        assert person.ws is not None
        how = rng.choice(["hang up", "drop", "resume after drop", "resume while open", "forged token"])
        if how == "hang up":
            await person.ws.close()
            await person.open()
        elif how == "drop" or how == "resume after drop":
            person.ws.transport.abort()  # no close frame: a lost network
            with contextlib.suppress(ConnectionClosed):
                await person.ws.wait_closed()
            await person.open(person.token if how == "resume after drop" else "")
        elif how == "resume while open":
            await resume_while_open(person)
        else:
            await person.ws.close()
            await person.open(maker.text(1, 200))


async def resume_while_open(person: RoomSocket) -> None:
    """A second socket resumes the peer id: the first gets `resumed_elsewhere` and 4408."""
    old = person.ws
    assert old is not None
    welcome = await person.open(person.token)
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while True:
                message = json.loads(await old.recv())
                if message.get("type") == "error":
                    person.note_error(message, "the resumed socket")
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
        person.figures.closes[code] += 1
        if not welcome["resumed"] or code != CLOSE_REPLACED:
            person.figures.problem(f"resume while open: resumed={welcome['resumed']}, old socket closed {code}")
    except TimeoutError:
        person.figures.problem("resume while open: the old socket stayed open")
        await old.close()


@dataclass
class Bounds:
    frames: int
    deadline: float
    figures: Figures

    def more(self) -> bool:
        return self.figures.frames < self.frames and time.monotonic() < self.deadline


async def clean_call(
    server: AppServer, slug: str, cookies: dict[str, str], figures: Figures, codes: frozenset[str]
) -> bool:
    """alice and bob in a room nobody fuzzed: bob's offer reaches alice, from bob."""
    alice = RoomSocket(server, cookies["alice"], slug, figures, codes)
    bob = RoomSocket(server, cookies["bob"], slug, figures, codes)
    try:
        await alice.open()
        await bob.open()
        assert bob.ws is not None
        await bob.ws.send(json.dumps({"type": "offer", "to": alice.peer_id, "sdp": "v=0\r\n"}))
        offer = await alice.until(lambda message: message["type"] == "offer")
        return bool(offer["from"] == bob.peer_id)
    except (ConnectionClosed, TimeoutError, OSError) as error:
        figures.problem(f"clean call after the fuzzing failed: {error!r}")
        return False
    finally:
        await alice.close()
        await bob.close()


@dataclass(frozen=True)
class Rooms:
    fuzzed: str
    after: str  # nobody fuzzes it: the clean call afterwards


async def fuzz(server: AppServer, rooms: Rooms, frames: int, seconds: float, seed: int, figures: Figures) -> None:
    codes = documented_codes()
    cookies = {person.username: login(server, person.username) for person in [*FUZZERS, *CLEAN]}
    people = [RoomSocket(server, cookies[person.username], rooms.fuzzed, figures, codes) for person in FUZZERS]
    for person in people:
        await person.open()
    peers = [person.peer_id for person in people]
    stop = Bounds(frames, time.monotonic() + seconds, figures)
    # Seeded, so that a failing run can be replayed (not a secret: S311 does not apply).
    rng = random.Random(seed)  # noqa: S311
    tasks = []
    for index, person in enumerate(people):
        maker = FrameMaker(random.Random(rng.random()), peers)  # noqa: S311
        if index < 2:  # the churners: their peer ids change, the others' stay known
            tasks.append(churn(person, maker, stop, random.Random(rng.random())))  # noqa: S311
        else:
            tasks.append(fuzz_socket(person, maker, stop))
    started = time.monotonic()
    try:
        await asyncio.gather(*tasks)
    finally:
        figures.seconds = time.monotonic() - started
        for person in people:
            await person.close()
    figures.relays_after = await clean_call(server, rooms.after, cookies, figures, codes)


def run(frames: int, seconds: float, seed: int = 1) -> Figures:
    """Start a server on a fresh database, fuzz it, stop it; the figures."""
    with PostgresDatabase(prefix="ax_fuzz_") as database, tempfile.TemporaryDirectory() as static_root:
        server = AppServer(database.url, Path(static_root), env=SERVER_ENV, name="fuzzed app")
        server.prepare()
        return fuzz_server(server, frames, seconds, seed)


def run_bounded(main: Coroutine[Any, Any, None], cleanup_seconds: float = 10) -> None:
    """`asyncio.run`, except that the client tasks left at the end (sockets the fuzzer aborted)
    get `cleanup_seconds` to end once cancelled: `asyncio.run` waits for ever, and one run in CI
    hung there, with the server's figures already taken. What the server did is judged from its
    log and the figures, not from how the fuzzer's own sockets wind down."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main)
    finally:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            _, stuck = loop.run_until_complete(asyncio.wait(left, timeout=cleanup_seconds))
            if stuck:
                print(f"fuzzer: {len(stuck)} client task(s) still winding down after {cleanup_seconds:.0f} s")
        loop.close()


def fuzz_server(server: AppServer, frames: int, seconds: float, seed: int = 1) -> Figures:
    """Fuzz a server not started yet, whose database is migrated and static files collected
    (rooms `fuzz` and `after` are added), then stop it and read its log."""
    figures = Figures()
    try:
        server.create_users([*FUZZERS, *CLEAN])
        rooms = Rooms(f"fuzz-{secrets.token_hex(3)}", f"after-{secrets.token_hex(3)}")
        server.create_room(rooms.fuzzed, owner="alice", name="Fuzzed", max_participants=50)
        server.create_room(rooms.after, owner="alice", name="After the fuzzing")
        server.start()
        run_bounded(fuzz(server, rooms, frames, seconds, seed, figures))
    finally:
        server.stop()
        log = server.log_path.read_text(errors="replace")
        figures.tracebacks = log.count("Traceback (most recent call last)")
        if figures.tracebacks:
            first = log.index("Traceback (most recent call last)")
            figures.problem(f"server log: {log[first : first + 1500]}")
        server.close()
    return figures


def report(figures: Figures, wanted: int) -> str:
    rate = figures.frames / figures.seconds if figures.seconds else 0
    lines = [
        f"frames sent: {figures.frames} in {figures.seconds:.1f} s ({rate:.0f}/s), each followed by a ping",
        "by kind: " + ", ".join(f"{name} {count}" for name, count in figures.by_category.most_common()),
        f"refused by the protocol module: {figures.refused_locally}; frames answered as expected: "
        f"{figures.answered_as_expected} of {figures.frames}",
        "errors by code: " + ", ".join(f"{code} {count}" for code, count in figures.errors.most_common()),
        "closes by code: " + (", ".join(f"{code} {count}" for code, count in sorted(figures.closes.items())) or "none"),
        f"joins: {figures.joins} (resumed: {figures.resumed})",
        f"crashed consumers (1011 closes): {figures.closes[1011]}; tracebacks in the server log: {figures.tracebacks}",
        f"afterwards, bob's offer reached alice: {'yes' if figures.relays_after else 'NO'}",
    ]
    failures = figures.failures(wanted)
    lines.append("verdict: " + ("every check holds" if not failures else "FAILED"))
    lines += [f"  - {failure}" for failure in failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m bench.fuzz")
    parser.add_argument("--short", action="store_true", help="10,000 frames (CI)")
    parser.add_argument("--frames", type=int, help="frames to send (default 100,000; 10,000 with --short)")
    parser.add_argument("--seconds", type=float, default=900, help="stop sending after this long (default 900)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    wanted = args.frames or (10_000 if args.short else 100_000)
    figures = run(wanted, args.seconds, args.seed)
    print(report(figures, wanted))
    sys.exit(1 if figures.failures(wanted) else 0)


if __name__ == "__main__":
    main()
