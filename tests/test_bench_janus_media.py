"""bench/janus_media.py, the load behind the Janus figures of `python -m bench.media`.

The counting subscriber must read loss and frame rate right (sequence wrap, late packets),
and the whole chain (pre-encoded VP8 remote publishers, SRTP rtp_forwards, Debian's janus
from the shipped configuration) must carry a few streams without loss at the clip's rate.
"""

import pytest

from bench.janus_media import FPS, StreamCount, janus_capacity, step_figures


def counted(*packets: tuple[int, bool]) -> StreamCount:
    stream = StreamCount()
    for seq, marker in packets:
        stream.add(seq, marker)
    return stream


def test_a_stream_counts_frames_and_spans_a_sequence_wrap():
    stream = counted((65534, False), (65535, True), (0, False), (1, True))

    assert (stream.packets, stream.frames, stream.expected) == (4, 2, 4)


def test_a_late_packet_from_before_the_wrap_is_not_counted_as_a_jump():
    stream = counted((65534, False), (0, True), (65535, True), (1, True))

    assert stream.expected == 4, "65535 arrived late: the span is still 65534..1, not 65536 packets"
    assert stream.packets == 4


def test_a_step_reports_the_lost_share_and_the_slowest_stream():
    before = {1: counted((10, True)), 2: counted((100, True))}
    after = {
        1: counted((10, True), *((seq, True) for seq in range(11, 41))),  # 30 frames, none lost
        2: counted((100, True), *((seq, True) for seq in range(101, 131) if seq % 10 != 5)),  # 3 of 30 lost
    }

    loss, lowest_fps = step_figures(before, after, [1, 2], wall=1.0)

    assert loss == pytest.approx(3 / 60)
    assert lowest_fps == 27


def test_a_stream_that_never_arrived_counts_as_no_frames():
    loss, lowest_fps = step_figures({}, {}, [7], wall=1.0)

    assert (loss, lowest_fps) == (0.0, 0.0)


@pytest.mark.slow
async def test_janus_forwards_a_pre_encoded_clip_to_counting_subscribers_at_its_frame_rate(tmp_path):
    calibration, steps = await janus_capacity(
        tmp_path, seconds=2, most=8, first=4, publishers=2, clip_seconds=1, webrtc_subscribers=2, calibration_seconds=1
    )

    assert calibration is not None and calibration.loss == 0, calibration

    assert [step.streams for step in steps] == [4, 6]
    for step in steps:
        assert step.loss == 0, step
        assert step.min_fps >= 0.9 * FPS, step
        assert step.counter_drops == step.janus_drops == 0, step
        assert step.cpu_per_stream_ms > 0, "Janus's own CPU is read from /proc"
