"""Write one incoming track, frame by frame, into a Matroska file that survives a crash.

Matroska is written front to back in clusters: if the process is killed, everything up
to the last finished cluster (at most `CLUSTER_MS` of media) still plays, which an MP4
(its index written last) would not. Frames are re-encoded (Opus, VP8) with timestamps
taken from the RTP clock, so silence and camera pauses keep their length. A frame given to
`write` is never changed: in a relay room the same decoded frame is also being encoded for
the others (`MediaRelay`), and PyAV's reformat and resample hand back the very frame they
were given when there is nothing to convert, so the writer works on its own copy then.
"""

import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.container import OutputContainer
from av.video.frame import VideoFrame

CLUSTER_MS = 1000
MAX_WIDTH, MAX_HEIGHT = 1280, 720
VIDEO_TIME_BASE = Fraction(1, 90_000)
AUDIO_RATE = 48_000
MIN_VIDEO_INTERVAL = Fraction(1, 30)  # drop frames above 30 fps: the encoder must keep up
_MUXER_OPTIONS = {"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"}


class TrackWriter:
    """Encodes frames of one kind into `path`; opened on the first frame, thread-safe.

    `write` runs in a worker thread (encoding would stall the event loop); `close` may
    come from another thread while a write is in flight, hence the lock.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.frames = 0
        self._container: OutputContainer | None = None
        self._stream: Any = None
        # Our own clock: the muxer rewrites the stream's time base once the header is out.
        self._time_base = Fraction(1, AUDIO_RATE) if kind == "audio" else VIDEO_TIME_BASE
        self._first_pts: int | None = None
        self._last_pts: int | None = None
        self._resampler: av.AudioResampler | None = None
        self._next_audio_pts = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def opened(self) -> bool:
        return self._container is not None

    def write(self, frame: AudioFrame | VideoFrame) -> None:
        with self._lock:
            if self._closed or frame.pts is None:
                return
            if self._container is None:
                self._open(frame)
            pts = self._relative_pts(frame)
            if pts is None:
                return
            for prepared in self._prepare(frame, pts):
                for packet in self._stream.encode(prepared):
                    self._container.mux(packet)  # type: ignore[union-attr]
            self.frames += 1

    def close(self) -> None:
        """Flush the encoder and write the file's index; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._container is None:
                return
            try:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
            finally:
                self._container.close()

    def _open(self, frame: AudioFrame | VideoFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format="matroska", options=_MUXER_OPTIONS)
        if isinstance(frame, AudioFrame):
            stream: Any = container.add_stream("libopus", rate=AUDIO_RATE)
            stream.layout = "stereo" if frame.layout.nb_channels > 1 else "mono"
            stream.time_base = Fraction(1, AUDIO_RATE)
            self._resampler = av.AudioResampler(format="s16", layout=stream.layout, rate=AUDIO_RATE)
        else:
            stream = container.add_stream("libvpx", rate=30)
            stream.width, stream.height = _even_fit(frame.width, frame.height)
            stream.pix_fmt = "yuv420p"
            stream.time_base = VIDEO_TIME_BASE
            stream.bit_rate = 1_000_000
            stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self._container, self._stream = container, stream

    def _relative_pts(self, frame: AudioFrame | VideoFrame) -> int | None:
        """The frame's time since this track's first frame, in the stream's time base."""
        assert frame.pts is not None and frame.time_base is not None
        seconds = Fraction(frame.pts) * frame.time_base
        if self._first_pts is None:
            self._first_pts = int(seconds / self._time_base)
        pts = int(seconds / self._time_base) - self._first_pts
        if self._last_pts is not None:
            gap = pts - self._last_pts
            if gap <= 0 or (self.kind == "video" and gap * self._time_base < MIN_VIDEO_INTERVAL):
                return None
        self._last_pts = pts
        return pts

    def _prepare(self, frame: AudioFrame | VideoFrame, pts: int) -> list[AudioFrame | VideoFrame]:
        if isinstance(frame, AudioFrame):
            return list(self._resample(frame, pts))
        # One size for the whole file: a changed camera resolution is scaled to the first one.
        prepared = frame.reformat(width=self._stream.width, height=self._stream.height, format="yuv420p")
        if prepared is frame:
            prepared = _copy_video(frame)
        prepared.pts = pts
        prepared.time_base = self._time_base
        return [prepared]

    def _resample(self, frame: AudioFrame, pts: int) -> list[AudioFrame]:
        """48 kHz for Opus; samples follow each other unless the sender paused (a gap over 60 ms)."""
        assert self._resampler is not None
        if pts - self._next_audio_pts > AUDIO_RATE * 60 // 1000:
            self._next_audio_pts = pts
        frames = self._resampler.resample(_copy_audio(frame))  # without a pts: ours follow below
        for out in frames:
            out.pts = self._next_audio_pts
            out.time_base = self._time_base
            self._next_audio_pts += out.samples
        return frames


def _even_fit(width: int, height: int) -> tuple[int, int]:
    """Fit within MAX_WIDTH x MAX_HEIGHT keeping the aspect; VP8 wants even sizes."""
    scale = min(1.0, MAX_WIDTH / width, MAX_HEIGHT / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _copy_video(frame: VideoFrame) -> VideoFrame:
    """The same picture in a frame of our own (row by row where the two pad their lines differently)."""
    copy = VideoFrame(frame.width, frame.height, frame.format.name)
    for source, target in zip(frame.planes, copy.planes, strict=True):
        if source.line_size == target.line_size:
            target.update(bytes(source)[: target.buffer_size])
            continue
        view, width = memoryview(source), min(source.line_size, target.line_size)
        rows = (view[row * source.line_size : row * source.line_size + width] for row in range(target.height))
        target.update(b"".join(bytes(row).ljust(target.line_size, b"\0") for row in rows))
    return copy


def _copy_audio(frame: AudioFrame) -> AudioFrame:
    """The same samples in a frame of our own, without a pts."""
    copy = AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=frame.samples)
    copy.sample_rate = frame.sample_rate
    for source, target in zip(frame.planes, copy.planes, strict=True):
        target.update(bytes(source)[: target.buffer_size])
    return copy
