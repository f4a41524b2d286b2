"""The signaling wire protocol: every message a browser sends or receives.

Incoming frames are parsed into typed messages here and nowhere else; anything
that does not fit raises `ProtocolError` with a stable code and a sentence a
person can act on. Outgoing messages are rendered here too, so docs/protocol.md
has one place to be checked against.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate
from typing import Any, Literal

import orjson
from django.utils.translation import gettext as _

PeerId = str
# The media worker's peer id: browsers negotiate with it like with any peer while a room is
# recorded. Real peer ids are 11 characters (`secrets.token_urlsafe(8)`), so they never clash.
SERVER_PEER_ID: PeerId = "server"
MAX_PEER_ID_LENGTH = 64
MAX_CANDIDATE_LENGTH = 2048
# Relay rooms carried by Janus: a browser has two connections with `server`, and the signals of
# the one that publishes its own media carry `"link": "publish"` (docs/protocol.md, Relay rooms).
PUBLISH_LINK = "publish"


class CloseCode(IntEnum):
    """WebSocket close codes the server uses (docs/protocol.md)."""

    GOING_AWAY = 1001
    SERVICE_RESTART = 1012
    NOT_LOGGED_IN = 4401
    FORBIDDEN = 4403
    REPLACED = 4408  # this peer id resumed on a newer connection
    ROOM_NOT_FOUND = 4404
    ROOM_FULL = 4409
    ROOM_CLOSED = 4410
    ROOM_LOCKED = 4423
    RATE_LIMITED = 4429  # also `too_many_connections`: one person's sockets in a room
    RELAY_UNAVAILABLE = 4503


class ProtocolError(Exception):
    """A message the server will not act on; the connection stays usable.

    `ref`: the refused message's own `id` (chat lines), echoed so the browser knows which."""

    def __init__(self, code: str, message: str, ref: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """`offer` or `answer`: an SDP for one other peer in the room."""

    type: Literal["offer", "answer"]
    to: PeerId
    sdp: str
    link: str = ""  # `PUBLISH_LINK` on a Janus relay's publishing connection, with `server` only


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """`ice`: one ICE candidate (RTCIceCandidateInit) or null for end-of-candidates."""

    to: PeerId
    candidate: dict[str, Any] | None
    type: Literal["ice"] = "ice"
    link: str = ""


@dataclass(frozen=True, slots=True)
class Ping:
    """`ping`: an application-level keepalive, answered by `pong`."""

    type: Literal["ping"] = "ping"


@dataclass(frozen=True, slots=True)
class CallStats:
    """`stats`: a browser's summary of its own `getStats()`, sent every few seconds.

    Aggregated over all its peer connections; every number may be null when unknown.
    """

    rtt_ms: float | None
    packet_loss: float | None
    inbound_kbps: float | None
    outbound_kbps: float | None
    path: Literal["direct", "relayed", "unknown"]
    type: Literal["stats"] = "stats"


@dataclass(frozen=True, slots=True)
class RecordingControl:
    """`recording`: the room's owner starts or stops the server-side recording."""

    action: Literal["start", "stop"]
    type: Literal["recording"] = "recording"


@dataclass(frozen=True, slots=True)
class ChatSend:
    """`chat`: a line of text for everyone in the room.

    `id`: the browser's idempotency key for this line ("" when none): a line sent again with
    the same key (after a reconnect) is stored once, and answered with the stored line."""

    text: str
    id: str = ""
    type: Literal["chat"] = "chat"


# Moderation (issue 6): actions on one person need `peer_id`; the others act on the room.
PERSON_ACTIONS = ("ask_mute", "mute", "remove", "remove_and_bar", "admit", "deny")
ROOM_ACTIONS = ("lock", "unlock", "end")


@dataclass(frozen=True, slots=True)
class Moderate:
    """`moderate`: a room's owner or moderator acts on a person (`peer_id`) or on the room.

    `withdraw_invite` (only with `remove_and_bar`): also withdraw the invite link a guest came in with."""

    action: Literal["ask_mute", "mute", "remove", "remove_and_bar", "admit", "deny", "lock", "unlock", "end"]
    peer_id: PeerId | None = None
    withdraw_invite: bool = False
    type: Literal["moderate"] = "moderate"


@dataclass(frozen=True, slots=True)
class MediaState:
    """`media-state`: what a person's own media looks like now, for every tile in the room.

    `audio`/`video`: microphone unmuted / camera on; `hand`: hand raised; `screen`: the id of
    the MediaStream carrying their shared screen (its msid in the SDP), or None.
    """

    audio: bool
    video: bool
    hand: bool
    screen: str | None
    type: Literal["media-state"] = "media-state"

    def public(self) -> dict[str, Any]:
        return {"audio": self.audio, "video": self.video, "hand": self.hand, "screen": self.screen}


@dataclass(frozen=True, slots=True)
class RelayFallback:
    """`relay-fallback`: the direct connection to `peer_id` failed even after an ICE restart;
    ask the media worker to carry this pair's media (mesh rooms)."""

    peer_id: PeerId
    type: Literal["relay-fallback"] = "relay-fallback"


Signal = SessionDescription | IceCandidate
ClientMessage = (
    SessionDescription
    | IceCandidate
    | Ping
    | CallStats
    | RecordingControl
    | ChatSend
    | Moderate
    | MediaState
    | RelayFallback
)
# Longer chat lines are refused by the chat service; this only bounds what is parsed.
MAX_CHAT_FRAME_TEXT = 4000

# `from` is tolerated and dropped: the server always sets it from the connection.
_IGNORED_FIELDS = frozenset({"from"})
_FIELDS: dict[str, frozenset[str]] = {
    "offer": frozenset({"type", "to", "sdp", "link"}),
    "answer": frozenset({"type", "to", "sdp", "link"}),
    "ice": frozenset({"type", "to", "candidate", "link"}),
    "ping": frozenset({"type"}),
    "stats": frozenset({"type", "rtt_ms", "packet_loss", "inbound_kbps", "outbound_kbps", "path"}),
    "recording": frozenset({"type", "action"}),
    "chat": frozenset({"type", "text", "id"}),
    "moderate": frozenset({"type", "action", "peer_id", "withdraw_invite"}),
    "media-state": frozenset({"type", "audio", "video", "hand", "screen"}),
    "relay-fallback": frozenset({"type", "peer_id"}),
}
# Plausible ranges for `stats` numbers; anything outside is a client bug or a lie.
_STATS_RANGES: dict[str, tuple[float, float]] = {
    "rtt_ms": (0, 60_000),
    "packet_loss": (0, 1),
    "inbound_kbps": (0, 1_000_000),
    "outbound_kbps": (0, 1_000_000),
}
_PATHS = ("direct", "relayed", "unknown")
_CANDIDATE_FIELDS: dict[str, tuple[type, ...]] = {
    "candidate": (str,),
    "sdpMid": (str, type(None)),
    "sdpMLineIndex": (int, type(None)),
    "usernameFragment": (str, type(None)),
}


def parse_client_message(text: str | None, binary: bytes | None, max_bytes: int) -> ClientMessage:
    """Parse one WebSocket frame from a browser, or raise `ProtocolError`."""
    if text is None:
        raise ProtocolError("binary_unsupported", _("Send JSON text frames; binary frames are not accepted."))
    if len(text) > max_bytes or _utf8_length(text) > max_bytes:
        raise ProtocolError("too_large", _("Message refused: larger than %(bytes)d bytes.") % {"bytes": max_bytes})
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise ProtocolError(
            "too_deep", _("Message refused: JSON nested deeper than %(depth)d levels.") % {"depth": MAX_JSON_DEPTH}
        )
    data = _loads(text)
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", _("A message must be a JSON object with a `type`."))
    if "\\u" in text and _has_lone_surrogate(data):
        raise ProtocolError("bad_json", _("Message has an unpaired \\u surrogate escape: it is not valid Unicode."))
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise ProtocolError(
            "unknown_type",
            _("Unknown message type %(kind)r: expected one of %(types)s.")
            % {"kind": str(kind)[:32], "types": ", ".join(_FIELDS)},
        )
    _reject_unknown_fields(kind, data)
    if kind == "ping":
        return Ping()
    if kind == "stats":
        return _call_stats(data)
    if kind == "chat":
        return _chat(data.get("text"), data.get("id", ""))
    if kind == "recording":
        return _recording_control(data)
    if kind == "moderate":
        return _moderate(data)
    if kind == "media-state":
        return _media_state(data)
    if kind == "relay-fallback":
        return RelayFallback(peer_id=_fallback_partner(data.get("peer_id")))
    to = _peer_id(data.get("to"))
    link = _link(data.get("link", ""), to)
    if kind == "ice":
        return IceCandidate(to=to, candidate=_candidate(data.get("candidate", ...)), link=link)
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise ProtocolError("bad_field", _("`sdp` must be a non-empty string in an %(kind)s.") % {"kind": kind})
    return SessionDescription(type=kind, to=to, sdp=sdp, link=link)  # type: ignore[arg-type]


def _link(value: object, to: PeerId) -> str:
    """`link`: absent, or `publish` on a signal to `server` (a Janus relay's publishing connection)."""
    if value == "":
        return ""
    if value != PUBLISH_LINK or to != SERVER_PEER_ID:
        raise ProtocolError("bad_field", _('`link` may only be "publish", on a signal to "server".'))
    return PUBLISH_LINK


def _loads(text: str) -> Any:
    """orjson (a relayed message's parse in a tenth of json's time); anything it refuses (a lone
    surrogate escape, NaN, an integer beyond 64 bits) goes through json, so what is accepted and
    refused, and with which code, is what json decides."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        raise ProtocolError("bad_json", _("Message is not valid JSON.")) from None


# No message nests deeper than 2 (an `ice` and its candidate). json.loads recurses once per
# level and raises RecursionError, not ValueError, near Python's recursion limit (~1000), so a
# frame of a few thousand `[` (far under the size cap) would crash the consumer: the depth is
# measured before parsing, without recursion.
MAX_JSON_DEPTH = 16
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text`, brackets inside strings aside."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # cannot be too deep: the common case costs two counts
    structure = _JSON_STRING.sub("", text)
    steps = (_DEPTH_STEP.get(char, 0) for char in structure.encode("ascii", "replace"))
    return max(accumulate(steps, initial=0))


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode())
    except UnicodeEncodeError:  # a lone surrogate: not from a socket (UTF-8 checked), but refused
        raise ProtocolError("bad_json", _("Message is not valid Unicode text.")) from None


def _has_lone_surrogate(data: dict[str, Any]) -> bool:
    """JSON may escape half a UTF-16 pair (`"\\ud800"`); such a string cannot be stored or
    encoded as UTF-8 later (PostgreSQL, the SDP parser), so it is refused here."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _call_stats(data: dict[str, Any]) -> CallStats:
    path = data.get("path", "unknown")
    if path not in _PATHS:
        raise ProtocolError("bad_field", _("`path` must be one of direct, relayed, unknown."))
    return CallStats(
        rtt_ms=_stat_number("rtt_ms", data.get("rtt_ms")),
        packet_loss=_stat_number("packet_loss", data.get("packet_loss")),
        inbound_kbps=_stat_number("inbound_kbps", data.get("inbound_kbps")),
        outbound_kbps=_stat_number("outbound_kbps", data.get("outbound_kbps")),
        path=path,
    )


def _recording_control(data: dict[str, Any]) -> RecordingControl:
    action = data.get("action")
    if action not in ("start", "stop"):
        raise ProtocolError("bad_field", _("`action` must be start or stop."))
    return RecordingControl(action=action)


def _moderate(data: dict[str, Any]) -> Moderate:
    action = data.get("action")
    if action in ROOM_ACTIONS:
        return Moderate(action=action)
    if action not in PERSON_ACTIONS:
        raise ProtocolError(
            "bad_field",
            _("`action` must be one of %(actions)s.") % {"actions": ", ".join(PERSON_ACTIONS + ROOM_ACTIONS)},
        )
    peer_id = data.get("peer_id")
    if not isinstance(peer_id, str) or not 0 < len(peer_id) <= MAX_PEER_ID_LENGTH:
        raise ProtocolError(
            "bad_field", _("`peer_id` must name the person to %(action)s.") % {"action": action.replace("_", " ")}
        )
    withdraw = data.get("withdraw_invite", False)
    if not isinstance(withdraw, bool) or (withdraw and action != "remove_and_bar"):
        raise ProtocolError("bad_field", _("`withdraw_invite` is true or false, and only goes with remove_and_bar."))
    return Moderate(action=action, peer_id=peer_id, withdraw_invite=withdraw)


def _fallback_partner(value: object) -> PeerId:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PEER_ID_LENGTH:
        raise ProtocolError("bad_field", _("`peer_id` must name the person whose direct connection failed."))
    return value


# A chat line's idempotency key: the browser makes it (crypto.randomUUID()).
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _chat(text: object, client_id: object) -> ChatSend:
    if not isinstance(client_id, str) or (client_id and not _CLIENT_ID.fullmatch(client_id)):
        raise ProtocolError("chat_invalid", _("A chat message's `id` must be 1 to 64 letters, digits, - or _."))
    if not isinstance(text, str) or len(text) > MAX_CHAT_FRAME_TEXT:
        raise ProtocolError("chat_invalid", _("A chat message must be text of at most 1000 characters."), client_id)
    return ChatSend(text=text, id=client_id)


# A MediaStream id: Chromium and Firefox use UUIDs (with braces in Firefox).
_STREAM_ID = re.compile(r"[A-Za-z0-9{}_-]{1,64}")


def _media_state(data: dict[str, Any]) -> MediaState:
    audio, video, hand = (_flag(data, name) for name in ("audio", "video", "hand"))
    screen = data.get("screen", ...)
    if screen is not None and (not isinstance(screen, str) or not _STREAM_ID.fullmatch(screen)):
        raise ProtocolError("bad_field", _("`screen` must be the shared screen's MediaStream id, or null."))
    return MediaState(audio=audio, video=video, hand=hand, screen=screen)


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if not isinstance(value, bool):
        raise ProtocolError("bad_field", _("`%(name)s` must be true or false in a media-state.") % {"name": name})
    return value


def _stat_number(name: str, value: object) -> float | None:
    if value is None:
        return None
    low, high = _STATS_RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ProtocolError(
            "bad_field",
            _("`%(name)s` must be a number from %(low)s to %(high)s, or null.")
            % {"name": name, "low": low, "high": high},
        )
    return float(value)


def _reject_unknown_fields(kind: str, data: dict[str, Any]) -> None:
    unknown = set(data) - _FIELDS[kind] - _IGNORED_FIELDS
    if unknown:
        names = ", ".join(sorted(str(name)[:32] for name in unknown))
        raise ProtocolError(
            "bad_message", _("Unknown field(s) in %(kind)s: %(names)s.") % {"kind": kind, "names": names}
        )


def _peer_id(value: object) -> PeerId:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PEER_ID_LENGTH:
        raise ProtocolError("bad_field", _("`to` must be the peer_id (a string) of someone in the room."))
    return value


def _candidate(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if value is ...:
        raise ProtocolError("bad_field", _("`candidate` is required: an RTCIceCandidateInit object or null."))
    if not isinstance(value, dict):
        raise ProtocolError("bad_field", _("`candidate` must be an RTCIceCandidateInit object or null."))
    for name, item in value.items():
        allowed = _CANDIDATE_FIELDS.get(name)
        if allowed is None:
            raise ProtocolError("bad_field", _("Unknown field %(name)r in `candidate`.") % {"name": str(name)[:32]})
        if not isinstance(item, allowed) or isinstance(item, bool):
            raise ProtocolError("bad_field", _("`candidate.%(name)s` has the wrong type.") % {"name": name})
    if len(value.get("candidate", "")) > MAX_CANDIDATE_LENGTH:
        raise ProtocolError("bad_field", _("`candidate.candidate` is too long."))
    return value


# Outgoing messages -------------------------------------------------------------


def _dump(message: dict[str, Any]) -> str:
    """Compact JSON as `json.dumps(message, separators=(",", ":"))` writes it, in a fraction of its time.

    For ASCII text orjson writes what json does, byte for byte (only a float under 1e-4 may read
    `1e-7` where json writes `1e-07`: the same number). json escapes non-ASCII characters and DEL
    (`\\u00e9`, `\\u007f`) where orjson writes them as they are, so a message with any (a name,
    a chat line) is rendered by json, as is anything orjson refuses."""
    try:
        text = orjson.dumps(message).decode()
    except TypeError:  # orjson.JSONEncodeError: a non-str key, a surrogate, an integer beyond 64 bits
        return json.dumps(message, separators=(",", ":"))
    if text.isascii() and "\x7f" not in text:
        return text
    return json.dumps(message, separators=(",", ":"))


def render_welcome(
    peer_id: PeerId,
    room: dict[str, Any],
    peers: list[dict[str, Any]],
    ice_servers: list[dict[str, Any]],
    chat: list[dict[str, Any]] | None = None,
    media_states: dict[PeerId, dict[str, Any]] | None = None,
    resume: tuple[str, float, bool] = ("", 0, False),
) -> str:
    """`resume`: the token to reconnect with, how long it lasts (seconds), and whether this
    connection resumed `peer_id` (the browser keeps its peer connections)."""
    token, seconds, resumed = resume
    return _dump(
        {
            "type": "welcome",
            "peer_id": peer_id,
            "room": room,
            "peers": peers,
            "ice_servers": ice_servers,
            "chat": chat or [],
            "media_states": media_states or {},
            "resume": token,
            "resume_seconds": seconds,
            "resumed": resumed,
        }
    )


def render_chat(sender: PeerId, line: dict[str, Any]) -> str:
    """A chat line as everyone in the room receives it (`name` and `text` are plain text; `id`
    the sender's idempotency key, which acknowledges the line to the sender)."""
    return _dump({"type": "chat", "from": sender, **line})


def render_media_state(sender: PeerId, state: MediaState) -> str:
    """A person's media state as everyone in the room receives it, `from` set by the server."""
    return _dump({"type": "media-state", "from": sender, **state.public()})


def render_peer_joined(peer: dict[str, Any]) -> str:
    return _dump({"type": "peer-joined", "peer": peer})


def render_peer_left(peer_id: PeerId, resumable: bool = False) -> str:
    """`resumable`: their connection dropped (or the server's did) rather than them hanging up;
    they may come back under the same id, so the others keep their peer connection a while."""
    if resumable:
        return _dump({"type": "peer-left", "peer_id": peer_id, "resumable": True})
    return _dump({"type": "peer-left", "peer_id": peer_id})


def render_signal(message: Signal, sender: PeerId) -> str:
    """The relayed form of a signal: the same fields, `from` set by the server."""
    rendered: dict[str, Any] = {"type": message.type, "from": sender, "to": message.to}
    if isinstance(message, IceCandidate):
        rendered["candidate"] = message.candidate
    else:
        rendered["sdp"] = message.sdp
    if message.link:
        rendered["link"] = message.link
    return _dump(rendered)


def render_recording(active: bool, by: str) -> str:
    """Everyone in the room: the recording started (`active`) or stopped, and who did it."""
    return _dump({"type": "recording", "active": active, "by": by})


def render_recording_stopped(reason: str, message: str) -> str:
    """Everyone in the room: the server stopped the recording itself, `reason` (an error code) and
    `message` saying why (its time limit, the disk running out)."""
    return _dump({"type": "recording", "active": False, "by": "", "reason": reason, "message": message})


def render_relay_tracks(upload: list[str], owners: dict[str, PeerId]) -> str:
    """Relay rooms, from `server` just before each offer: which transceivers (by `mid`) carry
    the browser's own media, and whose media each forwarded one carries, for the right tile."""
    return _dump({"type": "relay-tracks", "from": SERVER_PEER_ID, "upload": upload, "tracks": owners})


def render_relay_publish() -> str:
    """Relay rooms carried by Janus, from `server` once the browser may publish: offer its own
    media on a second, send-only connection (`link` `publish`)."""
    return _dump({"type": "relay-publish", "from": SERVER_PEER_ID})


def render_relay_fallback(partner: PeerId) -> str:
    """From `server`, before its offer: media with `partner` now goes through the relay."""
    return _dump({"type": "relay-fallback", "from": SERVER_PEER_ID, "peer_id": partner})


def render_media_mode(mode: str) -> str:
    """`auto` rooms, to everyone: media now goes `mesh` (direct) or through the `relay`."""
    return _dump({"type": "media-mode", "mode": mode})


def render_pong(resume: str = "") -> str:
    """`resume`: a fresh resume token, when the last one given has aged."""
    if resume:
        return _dump({"type": "pong", "resume": resume})
    return _dump({"type": "pong"})


def render_refusal(code: str, sentence: str, params: Mapping[str, Any] | None = None) -> str:
    """An `error` whose `sentence` is an English msgid (marked with gettext_noop where it is written,
    so makemessages finds it), translated now into the language active for the connection it goes
    to (signaling/language.py); `params` fill its %(name)s placeholders once translated."""
    text = _(sentence)
    return render_error(code, text % params if params else text)


def render_error(code: str, message: str, ref: str = "") -> str:
    """`ref`: the `id` of the message refused, when it had one (chat lines)."""
    if ref:
        return _dump({"type": "error", "code": code, "message": message, "id": ref})
    return _dump({"type": "error", "code": code, "message": message})


# Moderation and knock-to-enter (issue 6) ----------------------------------------


def render_mute(forced: bool, by: str) -> str:
    """To one person: a moderator muted them (`forced`) or asks them to mute."""
    return _dump({"type": "mute", "forced": forced, "by": by})


def render_room_locked(locked: bool, by: str) -> str:
    """Everyone in the room: a moderator locked or unlocked it."""
    return _dump({"type": "room-locked", "locked": locked, "by": by})


def render_waiting(message: str) -> str:
    """To a knocking newcomer: wait until a moderator answers."""
    return _dump({"type": "waiting", "message": message})


def render_knocking(peer: dict[str, Any]) -> str:
    """To the room's moderators: someone waits to be let in."""
    return _dump({"type": "knocking", "peer": peer})


def render_knock_withdrawn(peer_id: PeerId, outcome: Literal["admitted", "denied", "left"]) -> str:
    """To the room's moderators: someone no longer waits (let in, turned away, or gone)."""
    return _dump({"type": "knock-withdrawn", "peer_id": peer_id, "outcome": outcome})
