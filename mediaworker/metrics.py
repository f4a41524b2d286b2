"""Prometheus metrics of recordings and the media worker (at /metrics; a separate
`manage.py mediaworker` process serves them on MEDIAWORKER_METRICS_PORT)."""

from prometheus_client import Counter, Gauge, Histogram

RECORDINGS_STARTED = Counter("audioexchange_recordings_started_total", "Recordings started.")
RECORDINGS_FAILED = Counter("audioexchange_recordings_failed_total", "Recordings that ended without a file.")
RECORDINGS_READY = Counter("audioexchange_recordings_ready_total", "Recordings whose composite file was made.")
COMPOSITE_SECONDS = Histogram(
    "audioexchange_recording_composite_seconds",
    "Time ffmpeg took to make a recording's composite file.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
)
WORKER_STREAMS = Gauge("audioexchange_mediaworker_streams", "Media streams the worker in this process receives.")
