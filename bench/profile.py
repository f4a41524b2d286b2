"""Where a server's time goes, from the py-spy samples `python -m bench.signaling --profile DIR` keeps.

    python -m bench.profile DIR/02-embedded-pingpong-0.txt [--top 25]

Each sample (one thread's stack, `py-spy record --format raw --threads`) goes to one layer: the
innermost frame that belongs to a layer named in LAYERS, read from the leaf up, so time spent
in the standard library on behalf of a layer (json called by the protocol module, hashlib by
Django's signing) counts for the layer that called it. Samples of the thread that runs
`database_sync_to_async` are reported apart: that thread runs beside the event loop (but holds
the GIL while it runs Python).
"""

import argparse
import re
from collections import Counter
from pathlib import Path

# (layer, pattern on a frame's "function (file:line)"), innermost match wins; order breaks ties
# within one frame only.
LAYERS: tuple[tuple[str, str], ...] = (
    ("JSON (protocol.py parse/render)", r"\(json/|\(signaling/protocol\.py|orjson"),
    ("resume tokens and signing", r"\(signaling/resume\.py|\(django/core/signing\.py|\(hashlib|\(hmac\.py"),
    ("sessions and auth", r"\(signaling/auth\.py|\(django/contrib/(sessions|auth)/|\(channels/auth\.py"),
    ("database (ORM, driver, thread hop)", r"\(django/db/|sqlite3|psycopg|\(channels/db\.py|\(asgiref/sync\.py"),
    ("presence", r"\(signaling/(presence|redis_presence|mediastate)\.py"),
    ("redis client", r"\(redis/"),
    ("channel layer", r"\(signaling/layers\.py|\(channels_redis/|\(channels/layers\.py|\(signaling/inbox\.py"),
    ("metrics (prometheus_client)", r"\(prometheus_client/"),
    ("our services and consumer", r"\(signaling/|\(rooms/|\(chat/|\(moderation/|\(invites/|\(accounts/|\(mediaworker/"),
    ("Channels dispatch", r"\(channels/"),
    ("WebSocket framing (autobahn)", r"\(autobahn/|\(txaio/"),
    ("ASGI server (daphne)", r"\(daphne/"),
    ("HTTP handshake parsing (twisted.web)", r"\(twisted/web/"),
    ("event loop, sockets (Twisted, asyncio)", r"\(twisted/|\(asyncio/|\(selectors\.py|\(socket\.py"),
    ("logging", r"\(logging/"),
    ("Django other", r"\(django/"),
)
# Frames where a thread waits rather than runs.
_IDLE = re.compile(r"EpollSelector\.select|_worker \(concurrent/futures/thread\.py:81\)|Condition\.wait|Event\.wait")
_COMPILED = tuple((name, re.compile(pattern)) for name, pattern in LAYERS)
# Our functions whose inclusive share (every sample with them on the stack) is worth knowing.
MARKERS = (
    "RoomConsumer.receive",
    "relay_signal",
    "parse_client_message",
    "render_signal",
    "RoomConsumer.connect",
    "check_entry",
    "_check_entry",
    "take_place",
    "render_welcome",
    "issue (signaling/resume.py",
    "peer_id_from",
    "resolve_user",
    "group_send",
    "leave_room",
    "RoomConsumer.disconnect",
    "start_meeting",
    "participant_joined",
    "processHandshake",
    "WebSocketServerProtocol",
    "AsyncWebsocketConsumer.send",
    "WebSocketProtocol.handle_reply",
    "Server.handle_reply",
)


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def read(path: Path) -> list[tuple[str, list[str], int]]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        samples.append((thread, frames, int(count)))
    return samples


def is_database_thread(thread: str, frames: list[str]) -> bool:
    return "ThreadPoolExecutor" in thread or any("concurrent/futures/thread.py" in frame for frame in frames)


def summary(path: Path, top: int) -> str:
    samples = read(path)
    loop: Counter[str] = Counter()
    pool: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    idle = 0
    for thread, frames, count in samples:
        if frames and _IDLE.search(frames[-1]):
            idle += count  # --nonblocking cannot tell a thread waiting in epoll/a lock from one running
            continue
        target = pool if is_database_thread(thread, frames) else loop
        target[layer_of(frames)] += count
        if target is loop:
            functions[frames[-1] if frames else "?"] += count
            for marker in MARKERS:
                if any(marker in frame for frame in frames):
                    inclusive[marker] += count
    lines = [
        f"{path.name}: {sum(loop.values())} event-loop samples, {sum(pool.values())} in the database thread, "
        f"{idle} waiting (left out)"
    ]
    lines += _table("event-loop thread, by layer (innermost frame)", loop)
    lines += _table("database thread, by layer", pool)
    total = max(1, sum(loop.values()))
    lines.append("\nevent-loop thread, inclusive share of our functions:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common()]
    lines.append(f"\nevent-loop thread, top {top} leaf functions:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in functions.most_common(top)]
    return "\n".join(lines)


def _table(title: str, counts: Counter[str]) -> list[str]:
    total = max(1, sum(counts.values()))
    return [f"\n{title}:", *(f"  {100 * n / total:5.1f} %  {name}" for name, n in counts.most_common())]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.files:
        print(summary(path, args.top))
        print()


if __name__ == "__main__":
    main()
