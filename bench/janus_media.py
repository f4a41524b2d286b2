"""Janus's side of `python -m bench.media`: forwarded video streams per core, without decoding.

Debian's janus starts from the shipped deploy/janus configuration (`sfu.tests.janus_server`,
fresh secrets, 127.0.0.1 only). The load never encodes nor decodes while it runs:

- **Publishers**: a short VP8 clip is encoded once with ffmpeg (`make_clip`); each publisher is
  then an `ffmpeg -re -stream_loop -1 -c:v copy -f rtp` that packetizes the clip's encoded frames
  as RTP, in real time, into a VideoRoom *remote publisher* (`add_remote_publisher`: the plain-RTP
  entry Janus uses for cascading, demultiplexed by SSRC). To Janus and its subscribers it is a
  publisher like any other.
- **Subscribers**: each forwarded stream is a VideoRoom `rtp_forward` of a publisher's video to a
  local UDP socket, SRTP-protected (as every WebRTC subscriber's copy is). `RtpCounter` only reads
  RTP headers: packets and sequence gaps (loss), marker bits (frames). It is the cheapest
  subscriber there is, so the step-up measures Janus's forwarding, not the load.

N grows (by half each step) until loss reaches 1 % or a stream's frame rate falls below 90 % of the
clip's; CPU is Janus's own (utime + stime from /proc/<pid>/stat) over the step. Packets the
counter's sockets dropped for want of buffer (the load falling behind, not Janus) are reported
separately, per socket from /proc/net/udp: `counter_drops` on the counter's sockets (the load
falling behind), `janus_drops` on Janus's remote-publisher sockets (Janus falling behind its
input, e.g. starved of CPU by the rest of the machine).

What an `rtp_forward` does not do that a browser subscriber does: ICE and DTLS, RTCP feedback
(NACK retransmissions, PLI, REMB/TWCC). Janus's per-packet work (copy, header rewrite, SRTP
protect, one `sendto`) is the same. To size that difference, `webrtc_calibration` first
subscribes a few real WebRTC peers (aiortc, with their decoders stopped once connected: they
only decrypt, count and send RTCP) and reports Janus's CPU per WebRTC-forwarded stream beside
the `rtp_forward` one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import resource
import secrets
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sfu import videoroom
from sfu.janus_client import Handle, JanusConnection, JsonDict, Session
from sfu.tests.janus_server import JanusServer
from sfu.tests.test_videoroom_media import JanusPeer

FPS = 30
# Janus's remote publishers take RTP for m-line `mindex` on SSRC BASE + mindex * STEP
# (janus_videoroom.c: REMOTE_PUBLISHER_BASE_SSRC, REMOTE_PUBLISHER_SSRC_STEP).
REMOTE_PUBLISHER_SSRC = 1000
VIDEO_PT = 96
FORWARDS_PER_REQUEST = 50
COUNTER_SOCKETS = 8


def make_clip(path: Path, seconds: float = 4.0, size: str = "640x480", bitrate: str = "600k") -> Path:
    """Encode a VP8 clip of ffmpeg's moving test picture once (the only encoding in the run)."""
    if not path.exists():
        command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
        command += ["-i", f"testsrc2=size={size}:rate={FPS}", "-t", str(seconds), "-c:v", "libvpx"]
        command += ["-b:v", bitrate, "-deadline", "realtime", "-cpu-used", "8", "-g", str(2 * FPS), "-an", str(path)]
        subprocess.run(command, check=True, timeout=600)  # noqa: S603
    return path


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def udp_drops(ports: list[int]) -> int:
    """Datagrams the kernel dropped (receive buffer full) on the IPv4 UDP sockets bound to
    `ports` on 127.0.0.1 or any address: the `drops` column of /proc/net/udp."""
    wanted = {f"{address}:{port:04X}" for port in ports for address in ("0100007F", "00000000")}
    total = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] in wanted:
            total += int(fields[-1])
    return total


@dataclass
class StreamCount:
    """What one forwarded stream (one SSRC) delivered: packets, sequence span, frames."""

    packets: int = 0
    first_seq: int = -1
    last_seq: int = -1  # extended (wrap-counted) highest sequence number
    frames: int = 0

    def add(self, seq: int, marker: bool) -> None:
        if self.first_seq < 0:
            self.first_seq = self.last_seq = seq
        else:
            extended = (self.last_seq & ~0xFFFF) | seq
            if extended < self.last_seq - 0x8000:
                extended += 0x10000
            elif extended > self.last_seq + 0x8000:
                extended -= 0x10000  # a late packet from before a wrap
            self.last_seq = max(self.last_seq, extended)
        self.packets += 1
        self.frames += marker

    @property
    def expected(self) -> int:
        return 0 if self.first_seq < 0 else self.last_seq - self.first_seq + 1


class RtpCounter:
    """UDP sockets on 127.0.0.1 that count RTP packets per SSRC, in a thread; never decodes."""

    def __init__(self, sockets: int = COUNTER_SOCKETS) -> None:
        self.sockets = []
        for _ in range(sockets):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            self.sockets.append(sock)
        self.ports = [sock.getsockname()[1] for sock in self.sockets]
        self.streams: dict[int, StreamCount] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtp-counter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        for each in self.sockets:
            selector.register(each, selectors.EVENT_READ, each)
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                sock: socket.socket = key.data
                with self._lock:
                    while True:
                        try:
                            data = sock.recv(2048)
                        except BlockingIOError:
                            break
                        if len(data) < 12:
                            continue
                        ssrc = int.from_bytes(data[8:12], "big")
                        stream = self.streams.get(ssrc)
                        if stream is None:
                            stream = self.streams[ssrc] = StreamCount()
                        stream.add((data[2] << 8) | data[3], bool(data[1] & 0x80))
        selector.close()

    def snapshot(self) -> dict[int, StreamCount]:
        with self._lock:
            return {ssrc: StreamCount(s.packets, s.first_seq, s.last_seq, s.frames) for ssrc, s in self.streams.items()}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


@dataclass
class JanusStep:
    streams: int
    loss: float
    cpu_per_stream_ms: float
    janus_cores: float
    min_fps: float
    counter_drops: int
    janus_drops: int

    @property
    def held(self) -> bool:
        return self.loss < 0.01 and self.min_fps >= 0.9 * FPS


def step_figures(
    before: dict[int, StreamCount], after: dict[int, StreamCount], ssrcs: list[int], wall: float
) -> tuple[float, float]:
    """(loss fraction, lowest frames per second) of the streams `ssrcs` between two snapshots."""
    expected = received = 0
    lowest = float("inf")
    for ssrc in ssrcs:
        start, end = before.get(ssrc, StreamCount()), after.get(ssrc, StreamCount())
        expected += end.expected - start.expected
        received += end.packets - start.packets
        lowest = min(lowest, (end.frames - start.frames) / wall)
    return max(0, expected - received) / max(1, expected), (0.0 if lowest == float("inf") else lowest)


@dataclass
class WebRtcCalibration:
    subscribers: int
    baseline_cores: float  # Janus with its publishers only
    cpu_per_stream_ms: float  # Janus's extra CPU per WebRTC subscriber stream
    loss: float


def stop_decoding(peer: JanusPeer) -> None:
    """Stop aiortc's decoder threads: the receivers still decrypt, count and send RTCP.
    aiortc has no public switch for this (its receiver always decodes), hence the private call."""
    for transceiver in peer.pc.getTransceivers():
        transceiver.receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]


async def received_and_lost(peers: list[JanusPeer]) -> tuple[int, int]:
    received = lost = 0
    for peer in peers:
        for transceiver in peer.pc.getTransceivers():
            for report in (await transceiver.receiver.getStats()).values():
                if report.type == "inbound-rtp":
                    received += report.packetsReceived
                    lost += max(0, report.packetsLost)
    return received, lost


@dataclass
class Publisher:
    id: int
    port: int
    process: subprocess.Popen[bytes]


@dataclass
class JanusBench:
    """One Janus, one room, `publishers` clip publishers, and forwards added step by step."""

    handle: Handle
    access: videoroom.RoomAccess
    admin_key: str
    counter: RtpCounter
    publishers: list[Publisher] = field(default_factory=list)
    ssrcs: list[int] = field(default_factory=list)

    async def add_publisher(self, clip: Path) -> None:
        reply = await self.handle.message(
            {
                "request": "add_remote_publisher",
                "room": self.access.room,
                "secret": self.access.secret,
                "id": videoroom.random_id(),
                "display": f"clip-{len(self.publishers)}",
                "iface": "127.0.0.1",
                "streams": [{"type": "video", "mindex": 0, "mid": "0", "codec": "vp8"}],
            }
        )
        if reply.data.get("videoroom") != "success":
            raise RuntimeError(f"add_remote_publisher failed: {reply.data}")
        command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip)]
        command += ["-an", "-c:v", "copy", "-f", "rtp", "-ssrc", str(REMOTE_PUBLISHER_SSRC)]
        command += ["-payload_type", str(VIDEO_PT), f"rtp://127.0.0.1:{reply.data['port']}?pkt_size=1200"]
        process = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
        )
        self.publishers.append(Publisher(int(reply.data["id"]), int(reply.data["port"]), process))

    async def forward_up_to(self, count: int) -> None:
        """Add SRTP `rtp_forward`s (spread over publishers and counter sockets) until `count`."""
        crypto = base64.b64encode(secrets.token_bytes(30)).decode()
        while len(self.ssrcs) < count:
            publisher = self.publishers[len(self.ssrcs) % len(self.publishers)]
            batch = min(FORWARDS_PER_REQUEST, count - len(self.ssrcs))
            streams: list[JsonDict] = []
            for index in range(batch):
                ssrc = 0x10000000 + len(self.ssrcs) + index
                port = self.counter.ports[(len(self.ssrcs) + index) % len(self.counter.ports)]
                streams.append({"mid": "0", "host": "127.0.0.1", "port": port, "ssrc": ssrc, "pt": VIDEO_PT})
            reply = await self.handle.message(
                {
                    "request": "rtp_forward",
                    "room": self.access.room,
                    "secret": self.access.secret,
                    "admin_key": self.admin_key,
                    "publisher_id": publisher.id,
                    "host": "127.0.0.1",
                    "host_family": "ipv4",
                    "srtp_suite": 80,
                    "srtp_crypto": crypto,
                    "streams": streams,
                }
            )
            if reply.data.get("videoroom") != "rtp_forward":
                raise RuntimeError(f"rtp_forward failed: {reply.data}")
            self.ssrcs.extend(stream["ssrc"] for stream in streams)

    async def wait_flowing(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.counter.snapshot()
            if all(ssrc in seen for ssrc in self.ssrcs):
                return
            if time.monotonic() > deadline:
                missing = sum(ssrc not in seen for ssrc in self.ssrcs)
                raise RuntimeError(f"{missing} of {len(self.ssrcs)} forwarded streams never arrived")
            await asyncio.sleep(0.1)

    async def step(self, count: int, seconds: float, janus_pid: int) -> JanusStep:
        await self.forward_up_to(count)
        await self.wait_flowing(30)
        await asyncio.sleep(1.0)  # let the new forwarders settle
        inputs = [publisher.port for publisher in self.publishers]
        before, cpu = self.counter.snapshot(), process_cpu_seconds(janus_pid)
        counter_drops, janus_drops = udp_drops(self.counter.ports), udp_drops(inputs)
        wall = time.monotonic()
        await asyncio.sleep(seconds)
        after, cpu = self.counter.snapshot(), process_cpu_seconds(janus_pid) - cpu
        counter_drops, janus_drops = udp_drops(self.counter.ports) - counter_drops, udp_drops(inputs) - janus_drops
        wall = time.monotonic() - wall
        loss, min_fps = step_figures(before, after, self.ssrcs, wall)
        return JanusStep(count, loss, 1000 * cpu / wall / count, cpu / wall, min_fps, counter_drops, janus_drops)

    async def webrtc_calibration(
        self, session: Session, subscribers: int, seconds: float, janus_pid: int
    ) -> WebRtcCalibration:
        """Janus's CPU with its publishers alone, then with `subscribers` WebRTC subscribers
        (one feed each), each over `seconds`: the difference per subscriber stream."""
        await asyncio.sleep(1.0)
        cpu, wall = process_cpu_seconds(janus_pid), time.monotonic()
        await asyncio.sleep(seconds)
        baseline = (process_cpu_seconds(janus_pid) - cpu) / (time.monotonic() - wall)
        peers: list[JanusPeer] = []
        try:
            for index in range(subscribers):
                peer = JanusPeer(await session.attach(videoroom.PLUGIN))
                peers.append(peer)
                feed = self.publishers[index % len(self.publishers)].id
                await peer.answer((await videoroom.subscribe(peer.handle, self.access, [feed])).jsep)
                await peer.wait_for_event("webrtcup", timeout=30)
            deadline = time.monotonic() + 30
            for peer in peers:
                while (await received_and_lost([peer]))[0] == 0:
                    if time.monotonic() > deadline:
                        raise RuntimeError("a WebRTC subscriber received nothing from Janus in 30 s")
                    await asyncio.sleep(0.1)
            for peer in peers:
                stop_decoding(peer)
            await asyncio.sleep(1.0)
            before, cpu, wall = await received_and_lost(peers), process_cpu_seconds(janus_pid), time.monotonic()
            await asyncio.sleep(seconds)
            after, cpu = await received_and_lost(peers), process_cpu_seconds(janus_pid) - cpu
            wall = time.monotonic() - wall
        finally:
            for peer in peers:
                await peer.close()
                with contextlib.suppress(Exception):
                    await peer.handle.detach()
        received, lost = after[0] - before[0], after[1] - before[1]
        extra = cpu / wall - baseline
        return WebRtcCalibration(subscribers, baseline, 1000 * extra / subscribers, lost / max(1, received + lost))

    def stop(self) -> None:
        for publisher in self.publishers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(publisher.process.pid, 15)
            publisher.process.wait(10)


@contextlib.contextmanager
def running_janus(workdir: Path) -> Iterator[JanusServer]:
    """Debian's janus with the shipped configuration, allowed enough descriptors for the forwards
    (each `rtp_forward` has its own socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    server = JanusServer(workdir)
    server.environment["JANUS_DEBUG_LEVEL"] = "3"  # warnings and errors: no logging per request
    with server:
        yield server


async def janus_capacity(
    workdir: Path,
    *,
    seconds: float,
    most: int,
    first: int = 50,
    publishers: int = 4,
    clip_seconds: float = 4.0,
    webrtc_subscribers: int = 8,
    calibration_seconds: float | None = None,
) -> tuple[WebRtcCalibration | None, list[JanusStep]]:
    """The WebRTC calibration (unless `webrtc_subscribers` is 0), then the number of forwarded
    video streams stepped up (by half from `first`, at most `most`) until one fails; the
    steps, the last one the failing one (or the last at most `most`). /proc counts CPU in
    10 ms ticks, so the calibration's windows default to 3 times `seconds`, to read a few
    subscribers' share closely."""
    clip = make_clip(workdir / "clip.webm", clip_seconds)
    steps: list[JanusStep] = []
    calibration = None
    with running_janus(workdir) as server:
        assert server.process is not None
        connection = JanusConnection(server.url, server.api_secret)
        connection.start()
        counter = RtpCounter()
        bench: JanusBench | None = None
        try:
            session = await connection.create_session()
            handle = await session.attach(videoroom.PLUGIN)
            access = await videoroom.create_room(handle, server.admin_key, publishers=publishers, videocodec="vp8")
            bench = JanusBench(handle, access, server.admin_key, counter)
            for _ in range(publishers):
                await bench.add_publisher(clip)
            if webrtc_subscribers:
                calibration = await bench.webrtc_calibration(
                    session, webrtc_subscribers, calibration_seconds or 3 * seconds, server.process.pid
                )
                print(
                    f"  janus video: {webrtc_subscribers} WebRTC subscribers (aiortc, not decoding)  "
                    f"loss {calibration.loss:6.2%}  Janus CPU/stream {calibration.cpu_per_stream_ms:6.3f} ms/s "
                    f"above its {calibration.baseline_cores:4.2f} cores with the publishers alone",
                    flush=True,
                )
            count = first
            while count <= most:
                step = await bench.step(count, seconds, server.process.pid)
                steps.append(step)
                print(
                    f"  janus video: {count:5d} forwarded streams  loss {step.loss:6.2%}  "
                    f"CPU/stream {step.cpu_per_stream_ms:6.3f} ms/s  Janus {step.janus_cores:4.2f} cores  "
                    f"lowest {step.min_fps:4.1f} fps  dropped: by the counter {step.counter_drops}, "
                    f"at Janus's input {step.janus_drops}",
                    flush=True,
                )
                if not step.held:
                    break
                count = count * 3 // 2
        finally:
            if bench is not None:
                bench.stop()
            counter.close()
            await connection.close()
    return calibration, steps
