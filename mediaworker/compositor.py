"""The ffmpeg command that turns a recording's track files into one file.

Voices are mixed, and the mix is padded with silence to the recording's length, so audio
and video end together even when the last voice stopped early. Video tracks are laid out
in a grid, each shown from its first frame (its participant's join) and black after it
ends. A recording without video becomes Opus audio in Ogg; with video, VP8 and Opus in WebM.
"""

import math
from dataclasses import dataclass
from pathlib import Path

TILE_W, TILE_H = 640, 360
FPS = 15


@dataclass(frozen=True)
class TrackSpan:
    path: Path
    kind: str  # "audio" | "video"
    start: float  # seconds after the recording started


def output_name(spans: list[TrackSpan]) -> str:
    return "composite.webm" if any(span.kind == "video" for span in spans) else "composite.ogg"


def build_command(spans: list[TrackSpan], total: float, output: Path) -> list[str]:
    """ffmpeg arguments writing `output`, `total` seconds long."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for span in spans:
        command += ["-i", str(span.path)]
    audio = [(index, span) for index, span in enumerate(spans) if span.kind == "audio"]
    video = [(index, span) for index, span in enumerate(spans) if span.kind == "video"]
    filters: list[str] = []
    maps: list[str] = []
    if audio:
        filters.append(_mix_audio(audio, total))
        maps += ["-map", "[aout]", "-c:a", "libopus", "-b:a", "64k"]
    if video:
        filters.append(_grid_video(video, total))
        maps += ["-map", "[vout]", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]
    return [*command, "-filter_complex", ";".join(filters), *maps, "-t", f"{total:.3f}", str(output)]


def _mix_audio(audio: list[tuple[int, TrackSpan]], total: float) -> str:
    chains = [
        f"[{index}:a]aresample=48000,asetpts=PTS-STARTPTS,adelay=delays={round(span.start * 1000)}:all=1[a{index}]"
        for index, span in audio
    ]
    labels = "".join(f"[a{index}]" for index, _ in audio)
    # normalize=0: a voice keeps its level however many people are in the room.
    mix = f"{labels}amix=inputs={len(audio)}:duration=longest:normalize=0,apad=whole_dur={total:.3f}[aout]"
    return ";".join([*chains, mix])


def _grid_video(video: list[tuple[int, TrackSpan]], total: float) -> str:
    chains = [
        f"[{index}:v]setpts=PTS-STARTPTS,fps={FPS},"
        f"scale={TILE_W}:{TILE_H}:force_original_aspect_ratio=decrease,"
        f"pad={TILE_W}:{TILE_H}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,"
        f"tpad=start_duration={span.start:.3f}:start_mode=add:stop_mode=add:stop_duration={total:.3f}:color=black"
        f"[v{index}]"
        for index, span in video
    ]
    labels = "".join(f"[v{index}]" for index, _ in video)
    if len(video) == 1:
        return ";".join([*chains, f"{labels}null[vout]"])
    columns = math.ceil(math.sqrt(len(video)))
    layout = "|".join(f"{(n % columns) * TILE_W}_{(n // columns) * TILE_H}" for n in range(len(video)))
    stack = f"{labels}xstack=inputs={len(video)}:layout={layout}:fill=black[vout]"
    return ";".join([*chains, stack])
