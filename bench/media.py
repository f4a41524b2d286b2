"""`python -m bench.media`: what one media worker process carries on this machine (a tool, not a test).

Everything runs on 127.0.0.1 (the aiortc parts in this one process), bounded to a few minutes:

- relay: one aiortc publisher (audio, or video) and N aiortc subscribers joined to a real
  `RelaySession`; N grows until a subscriber loses more than 1% of packets or a step misses its
  frame rate. CPU per forwarded stream is this process's CPU time over the step, divided by N.
  The load (publisher encode, subscribers' decode) runs in the same process, so the figures are
  a lower bound for the worker alone.
- recording: `TrackWriter` encodes synthetic frames as fast as it can: the real-time factor
  (media seconds per wall second) and CPU seconds per media second, per kind.
- composite: two participants' files of `--composite-seconds`, mixed and gridded by the same
  ffmpeg command as a real recording; the time scaled to one minute of call.
- memory: RSS after 100 connect/close cycles of an aiortc peer pair, against the start.
- Janus, side by side (`bench/janus_media.py`): Debian's janus from the shipped configuration,
  pre-encoded VP8 publishers and counting-only RTP subscribers (nothing decodes); forwarded video
  streams step up until 1% loss or a lost frame rate; before them, a few non-decoding aiortc
  WebRTC subscribers give Janus's CPU per browser-like subscriber. The last table puts the two
  relays' figures next to each other: streams per core = 1000 ms / CPU per forwarded stream, at
  the largest step that held.

Usage: `python -m bench.media [--step-seconds 6] [--max-subscribers 64] [--composite-seconds 20]
[--janus-max-streams 3200] [--janus-publishers 4] [--janus-webrtc-subscribers 8] [--relay-only]
[--no-janus]`
"""

import argparse
import asyncio
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audioexchange.settings")
# A measuring tool on this machine, serving nothing: the development settings (and key) do.
os.environ.setdefault("DEBUG", "1")
django.setup()

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.janus_media import JanusStep, WebRtcCalibration, janus_capacity  # noqa: E402
from mediaworker import compositor  # noqa: E402
from mediaworker.relay import RelaySession  # noqa: E402
from mediaworker.writer import TrackWriter  # noqa: E402
from signaling.presence import Peer  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# Relay ------------------------------------------------------------------------------------


class BenchClient:
    """An aiortc browser on one RelayLink: publishes `kind` (or nothing) and counts what it gets."""

    def __init__(self, peer_id: str, publish: str | None) -> None:
        self.peer = Peer(peer_id=peer_id, name=peer_id, user_id=None, channel_name=peer_id)
        self.publish = publish
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.upload: list[str] = []
        self.frames = 0
        self.pc.on("track", self._read)
        self._tasks: list[asyncio.Task[None]] = []

    async def answer(self, session: RelaySession, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid in self.upload and transceiver.kind == self.publish and not transceiver.sender.track:
                transceiver.sender.replaceTrack(AudioStreamTrack() if self.publish == "audio" else VideoStreamTrack())
                transceiver.direction = "sendonly"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await session.signal(self.peer.peer_id, {"type": "answer", "sdp": self.pc.localDescription.sdp})

    def _read(self, track: Any) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._count(track)))

    async def _count(self, track: Any) -> None:
        try:
            while True:
                await track.recv()
                self.frames += 1
        except MediaStreamError:
            pass

    async def loss(self) -> tuple[int, int]:
        """(packets received, packets lost) on every forwarded stream."""
        received = lost = 0
        for transceiver in self.pc.getTransceivers():
            if transceiver.mid in self.upload:
                continue
            for report in (await transceiver.receiver.getStats()).values():
                if report.type == "inbound-rtp":
                    received += report.packetsReceived
                    lost += max(0, report.packetsLost)
        return received, lost

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


async def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@dataclass
class RelayStep:
    subscribers: int
    loss: float
    cpu_per_stream_ms: float
    frames_ok: bool


async def relay_step(kind: str, subscribers: int, seconds: float) -> RelayStep:
    clients: dict[str, BenchClient] = {}

    async def send(channel: str, text: str) -> None:
        import json

        message = json.loads(text)
        client = clients[channel]
        if message["type"] == "relay-tracks":
            client.upload = message["upload"]
        elif message["type"] == "offer":
            asyncio.get_running_loop().create_task(client.answer(session, message["sdp"]))

    session = RelaySession("bench", audio_only=kind == "audio", send=send, budget=lambda streams: None)
    publisher = clients["pub"] = BenchClient("pub", kind)
    await session.connect(publisher.peer)
    for index in range(subscribers):
        client = clients[f"sub{index}"] = BenchClient(f"sub{index}", None)
        await session.connect(client.peer)
    subs = [client for name, client in clients.items() if name != "pub"]
    await wait_until(lambda: all(client.frames > 0 for client in subs), 30)
    before = [await client.loss() for client in subs]
    frames_before = [client.frames for client in subs]
    cpu, wall = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
    after = [await client.loss() for client in subs]
    received = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    lost = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    rate = FRAME_RATE[kind]
    got = min(client.frames - start for client, start in zip(subs, frames_before, strict=True))
    await session.stop()
    for client in clients.values():
        await client.close()
    return RelayStep(
        subscribers=subscribers,
        loss=lost / max(1, received + lost),
        cpu_per_stream_ms=1000 * cpu / wall / max(1, subscribers),
        frames_ok=got >= 0.9 * rate * wall,
    )


async def relay_capacity(kind: str, seconds: float, most: int) -> list[RelayStep]:
    steps: list[RelayStep] = []
    count = 1
    while count <= most:
        step = await relay_step(kind, count, seconds)
        steps.append(step)
        print(
            f"  relay {kind}: {count:3d} subscribers  loss {step.loss:6.2%}  "
            f"CPU/stream {step.cpu_per_stream_ms:6.1f} ms/s  frame rate kept: {step.frames_ok}",
            flush=True,
        )
        if step.loss > 0.01 or not step.frames_ok:
            break
        count *= 2
    return steps


# Recording and composite ------------------------------------------------------------------


FRAME_RATE = {"audio": 50, "video": 30}  # aiortc's test tracks: 20 ms audio frames, 30 fps video
PTS_STEP = {"audio": 960, "video": 3000}  # 48 kHz samples, 90 kHz clock


async def synthetic_frame(kind: str) -> Any:
    """One frame of aiortc's test track (a tone, a plain picture: cheaper to encode than a face)."""
    track = AudioStreamTrack() if kind == "audio" else VideoStreamTrack()
    return await track.recv()


def write_file(path: Path, kind: str, frame: Any, seconds: float) -> tuple[float, float]:
    """Encode `seconds` of `frame`, restamped, into `path`: (CPU seconds, wall seconds)."""
    writer = TrackWriter(path, kind)
    cpu, wall = cpu_seconds(), time.monotonic()
    for index in range(int(seconds * FRAME_RATE[kind])):
        frame.pts = index * PTS_STEP[kind]
        writer.write(frame)
    writer.close()
    return cpu_seconds() - cpu, time.monotonic() - wall


async def recording_figures(directory: Path, seconds: float) -> dict[str, tuple[float, float]]:
    figures = {}
    for kind in ("audio", "video"):
        cpu, wall = write_file(directory / f"bench-{kind}.mkv", kind, await synthetic_frame(kind), seconds)
        figures[kind] = (seconds / wall, cpu / seconds)
        print(f"  recording {kind}: real-time factor {seconds / wall:6.1f}x, {1000 * cpu / seconds:6.1f} ms CPU/s")
    return figures


async def composite_figure(directory: Path, seconds: float) -> float:
    spans = []
    for person in ("a", "b"):
        for kind in ("audio", "video"):
            path = directory / f"{person}-{kind}.mkv"
            write_file(path, kind, await synthetic_frame(kind), seconds)
            spans.append(compositor.TrackSpan(path, kind, 0.0 if person == "a" else 1.0))
    command = compositor.build_command(spans, seconds + 1, directory / compositor.output_name(spans))
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603
    per_minute = (time.monotonic() - started) * 60 / (seconds + 1)
    print(f"  composite (2 people, audio+video): {per_minute:6.1f} s of encoding per minute of call")
    return per_minute


# Memory -----------------------------------------------------------------------------------


async def connect_and_close() -> None:
    caller, callee = RTCPeerConnection(), RTCPeerConnection()
    caller.addTransceiver("audio", direction="sendrecv")
    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    await wait_until(lambda: caller.connectionState == "connected", 10)
    await caller.close()
    await callee.close()


async def memory_figure(cycles: int) -> tuple[float, float]:
    await connect_and_close()  # warm up imports and caches
    start = rss_mib()
    for _ in range(cycles):
        await connect_and_close()
    end = rss_mib()
    print(f"  memory: {start:.1f} MiB before, {end:.1f} MiB after {cycles} open/close cycles")
    return start, end


def largest_held(steps: list[RelayStep]) -> RelayStep | None:
    good = [step for step in steps if step.loss <= 0.01 and step.frames_ok]
    return good[-1] if good else None


def side_by_side(aiortc_steps: list[RelayStep], janus_steps: list[JanusStep]) -> list[str]:
    """The comparison table: each relay's largest held step and its CPU per stream, streams per
    core, ratios. When no step held, CPU comes from the first step (marked *)."""
    aiortc = largest_held(aiortc_steps)
    janus_held = [step for step in janus_steps if step.held]
    janus = janus_held[-1] if janus_held else None
    aiortc_cpu = (aiortc or aiortc_steps[0]).cpu_per_stream_ms if aiortc_steps else None
    janus_cpu = (janus or janus_steps[0]).cpu_per_stream_ms if janus_steps else None
    rows = [f"{'video, forwarded streams':38s} {'aiortc worker':>14s} {'Janus':>10s} {'Janus vs aiortc':>16s}"]

    def row(name: str, mine: float | None, theirs: float | None, fmt: str, lower_is_better: bool = False) -> None:
        if mine and theirs:
            ratio = f"{mine / theirs:.0f}x less" if lower_is_better else f"{theirs / mine:.0f}x"
        else:
            ratio = "-"
        left = format(mine, fmt) + ("" if aiortc else "*") if mine is not None else "-"
        right = format(theirs, fmt) + ("" if janus else "*") if theirs is not None else "-"
        rows.append(f"{name:38s} {left:>14s} {right:>10s} {ratio:>16s}")

    held = (aiortc.subscribers if aiortc else 0, janus.streams if janus else 0)
    rows.append(f"{'largest step held (<1% loss, fps kept)':38s} {held[0]:>14d} {held[1]:>10d}")
    row("CPU per forwarded stream (ms/s)", aiortc_cpu, janus_cpu, ".3f", lower_is_better=True)
    row(
        "forwarded streams per core",
        1000 / aiortc_cpu if aiortc_cpu else None,
        1000 / janus_cpu if janus_cpu else None,
        ".0f",
    )
    if not (aiortc and janus):
        rows.append("* no step held: CPU from the smallest step")
    return rows


async def run(args: argparse.Namespace) -> None:
    print(f"bench.media on {os.cpu_count()} cores; MEDIAWORKER_MAX_STREAMS={settings.MEDIAWORKER_MAX_STREAMS}")
    print(f"load average at the start: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    steps = {kind: await relay_capacity(kind, args.step_seconds, args.max_subscribers) for kind in ("audio", "video")}
    janus_steps: list[JanusStep] = []
    calibration: WebRtcCalibration | None = None
    if not args.no_janus:
        with tempfile.TemporaryDirectory() as tmp:
            calibration, janus_steps = await janus_capacity(
                Path(tmp),
                seconds=args.step_seconds,
                most=args.janus_max_streams,
                publishers=args.janus_publishers,
                webrtc_subscribers=args.janus_webrtc_subscribers,
            )
    if not args.relay_only:
        with tempfile.TemporaryDirectory() as tmp:
            await recording_figures(Path(tmp), 10)
            await composite_figure(Path(tmp), args.composite_seconds)
        await memory_figure(100)
    for kind, found in steps.items():
        best = largest_held(found)
        held_count = best.subscribers if best else 0
        print(f"relay {kind}: {held_count} forwarded streams at <1% loss (the largest step that held)")
    if janus_steps:
        print()
        print("\n".join(side_by_side(steps["video"], janus_steps)))
        if calibration is not None:
            print(
                f"Janus CPU per WebRTC subscriber stream ({calibration.subscribers} aiortc peers, not decoding): "
                f"{calibration.cpu_per_stream_ms:.3f} ms/s, loss {calibration.loss:.2%}"
            )
        if janus_steps[-1].held:
            print(f"(Janus held every step up to --janus-max-streams={args.janus_max_streams}: its limit is higher)")
    print(f"load average at the end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    parser.add_argument("--step-seconds", type=float, default=6.0)
    parser.add_argument("--max-subscribers", type=int, default=64)
    parser.add_argument("--composite-seconds", type=float, default=20.0)
    parser.add_argument("--janus-max-streams", type=int, default=3200)
    parser.add_argument("--janus-publishers", type=int, default=4)
    parser.add_argument("--janus-webrtc-subscribers", type=int, default=8, help="for the calibration; 0 skips it")
    parser.add_argument("--relay-only", action="store_true", help="skip recording, composite and memory")
    parser.add_argument("--no-janus", action="store_true", help="skip Janus (it needs Debian's janus)")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
