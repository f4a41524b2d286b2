"""Prometheus metrics of the signaling, exported at /metrics with django-prometheus.

Gauges of live state are read from the presence registry when scraped, never
counted up and down per event, so they cannot drift.
"""

from prometheus_client import Counter, Gauge, Histogram

OPEN_SOCKETS = Gauge("audioexchange_signaling_open_sockets", "Room WebSocket connections open on this process.")
ACTIVE_ROOMS = Gauge("audioexchange_signaling_active_rooms", "Rooms with at least one participant.")
PARTICIPANTS = Gauge("audioexchange_signaling_participants", "Participants admitted to rooms.")
MESSAGES_RELAYED = Counter(
    "audioexchange_signaling_messages_relayed_total", "Signaling messages relayed to a peer, by type.", ["type"]
)
CONNECTIONS_REFUSED = Counter(
    "audioexchange_signaling_connections_refused_total", "Room connections refused, by reason.", ["reason"]
)
ERRORS = Counter("audioexchange_signaling_errors_total", "Error messages sent to browsers, by code.", ["code"])
JOIN_SECONDS = Histogram(
    "audioexchange_signaling_join_seconds",
    "Time from WebSocket connect to welcome.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Call quality from browsers' `stats` reports, by room kind (audio/video) and media path,
# never by person or room.
CALL_REPORTS = Counter(
    "audioexchange_call_quality_reports_total", "Call-quality reports received.", ["room_kind", "path"]
)
CALL_RTT = Histogram(
    "audioexchange_call_rtt_seconds",
    "Round-trip time between peers, as browsers measure it.",
    ["room_kind", "path"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1, 2),
)
CALL_PACKET_LOSS = Histogram(
    "audioexchange_call_packet_loss_ratio",
    "Fraction of inbound packets lost.",
    ["room_kind", "path"],
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
)
CALL_BITRATE = Histogram(
    "audioexchange_call_bitrate_kbps",
    "Media bitrate per browser, in kbit/s.",
    ["room_kind", "direction"],
    buckets=(16, 32, 64, 128, 256, 512, 1000, 2000, 4000),
)
CHAT_MESSAGES = Counter("audioexchange_chat_messages_total", "Chat messages posted in rooms.")
TURN_CREDENTIALS_ISSUED = Counter(
    "audioexchange_turn_credentials_issued_total", "Short-lived TURN credentials handed to browsers."
)


def _presence_stats() -> tuple[int, int]:
    from signaling.presence import get_presence

    return get_presence().local_stats()


def _open_sockets() -> int:
    from signaling.hub import hub

    return len(hub.connections)


OPEN_SOCKETS.set_function(_open_sockets)
ACTIVE_ROOMS.set_function(lambda: _presence_stats()[0])
PARTICIPANTS.set_function(lambda: _presence_stats()[1])
