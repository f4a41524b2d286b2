"""Properties of `signaling/protocol.py`, checked with generated frames (hypothesis).

Whatever a socket delivers, parsing ends in a typed message or a `ProtocolError` whose code is
documented in docs/protocol.md (with a sentence); valid messages survive a round trip; unknown
fields are refused.
"""

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling import protocol
from signaling.protocol import ProtocolError, parse_client_message

MAX_BYTES = 64 * 1024
DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOCUMENTED_CODES = frozenset(re.findall(r"^\| `([a-z_]+)`", DOCS.read_text(), re.MULTILINE))
TYPES = tuple(protocol._FIELDS)
ClientMessage = protocol.ClientMessage

peer_ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=protocol.MAX_PEER_ID_LENGTH)
unit = st.floats(0, 1, allow_nan=False) | st.none()
kbps = st.floats(0, 1_000_000, allow_nan=False) | st.none()
candidates = st.none() | st.fixed_dictionaries(
    {"candidate": st.text(max_size=200)},
    optional={
        "sdpMid": st.none() | st.text(max_size=8),
        "sdpMLineIndex": st.none() | st.integers(0, 16),
        "usernameFragment": st.none() | st.text(max_size=16),
    },
)
valid_messages: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(
        lambda kind, to, sdp: {"type": kind, "to": to, "sdp": sdp},
        st.sampled_from(["offer", "answer"]),
        peer_ids,
        st.text(min_size=1, max_size=500),
    ),
    st.builds(lambda to, candidate: {"type": "ice", "to": to, "candidate": candidate}, peer_ids, candidates),
    # A Janus relay's publishing connection (docs/protocol.md, Relay rooms carried by Janus).
    st.builds(
        lambda kind, sdp: {"type": kind, "to": "server", "sdp": sdp, "link": "publish"},
        st.sampled_from(["offer", "answer"]),
        st.text(min_size=1, max_size=500),
    ),
    st.builds(lambda candidate: {"type": "ice", "to": "server", "candidate": candidate, "link": "publish"}, candidates),
    st.just({"type": "ping"}),
    st.builds(
        lambda rtt, loss, inbound, outbound, path: {
            "type": "stats",
            "rtt_ms": rtt,
            "packet_loss": loss,
            "inbound_kbps": inbound,
            "outbound_kbps": outbound,
            "path": path,
        },
        st.floats(0, 60_000, allow_nan=False) | st.none(),
        unit,
        kbps,
        kbps,
        st.sampled_from(["direct", "relayed", "unknown"]),
    ),
    st.builds(lambda action: {"type": "recording", "action": action}, st.sampled_from(["start", "stop"])),
    st.builds(lambda text: {"type": "chat", "text": text}, st.text(max_size=protocol.MAX_CHAT_FRAME_TEXT)),
    st.builds(lambda action: {"type": "moderate", "action": action}, st.sampled_from(protocol.ROOM_ACTIONS)),
    st.builds(
        lambda action, peer: {"type": "moderate", "action": action, "peer_id": peer},
        st.sampled_from(protocol.PERSON_ACTIONS),
        peer_ids,
    ),
    st.builds(
        lambda audio, video, hand, screen: {
            "type": "media-state",
            "audio": audio,
            "video": video,
            "hand": hand,
            "screen": screen,
        },
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.none() | st.from_regex(r"[A-Za-z0-9{}_-]{1,64}", fullmatch=True),
    ),
    st.builds(lambda peer: {"type": "relay-fallback", "peer_id": peer}, peer_ids),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)


def parse_or_error(text: str | None, binary: bytes | None = None) -> ClientMessage | ProtocolError:
    try:
        return parse_client_message(text, binary, MAX_BYTES)
    except ProtocolError as error:
        return error


def assert_typed_or_documented(outcome: ClientMessage | ProtocolError) -> None:
    if isinstance(outcome, ProtocolError):
        assert outcome.code in DOCUMENTED_CODES, f"{outcome.code!r} is not in docs/protocol.md"
        assert len(outcome.message) > 10 and outcome.message.endswith("."), outcome.message
    else:
        assert outcome.type in TYPES


@settings(max_examples=400)
@given(st.text())
def test_any_text_is_a_message_or_a_documented_error(text: str) -> None:
    assert_typed_or_documented(parse_or_error(text))


@settings(max_examples=200)
@given(st.binary())
def test_any_binary_frame_is_refused_with_a_documented_error(data: bytes) -> None:
    outcome = parse_or_error(None, data)
    assert isinstance(outcome, ProtocolError) and outcome.code == "binary_unsupported"


@settings(max_examples=400)
@given(json_values)
def test_any_json_value_is_a_message_or_a_documented_error(value: object) -> None:
    assert_typed_or_documented(parse_or_error(json.dumps(value)))


@settings(max_examples=400)
@given(
    valid_messages,
    st.sampled_from(TYPES),
    st.dictionaries(
        st.sampled_from(
            ["type", "to", "sdp", "candidate", "text", "action", "peer_id", "audio", "screen", "path", "rtt_ms", "link"]
        ),
        json_values,
        max_size=3,
    ),
)
def test_a_valid_message_with_fields_mutated_is_a_message_or_a_documented_error(
    message: dict[str, Any], kind: str, changes: dict[str, Any]
) -> None:
    mutated = {**message, "type": kind, **changes}
    assert_typed_or_documented(parse_or_error(json.dumps(mutated)))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(17, 20_000), st.sampled_from(["[", '{"a":', '{"type":"ice","to":"x","candidate":']))
def test_deep_nesting_is_refused_without_recursion(depth: int, opening: str) -> None:
    frame = (opening * depth)[:MAX_BYTES]  # still thousands of levels, under the size cap
    outcome = parse_or_error(frame)
    assert isinstance(outcome, ProtocolError) and outcome.code == "too_deep", outcome


@settings(max_examples=500)
@given(valid_messages)
def test_valid_messages_parse_to_their_type_and_render_back(message: dict[str, Any]) -> None:
    parsed = parse_client_message(json.dumps(message), None, MAX_BYTES)
    assert parsed.type == message["type"]
    if isinstance(parsed, protocol.SessionDescription | protocol.IceCandidate):
        relayed = json.loads(protocol.render_signal(parsed, "alice-peer"))
        assert relayed == {**message, "from": "alice-peer"}
        assert parse_client_message(json.dumps(relayed), None, MAX_BYTES) == parsed  # `from` is dropped
    elif isinstance(parsed, protocol.MediaState):
        rendered = json.loads(protocol.render_media_state("alice-peer", parsed))
        assert rendered == {**message, "from": "alice-peer"}
    else:
        # A field left out takes the message class's default (None, or False for a flag).
        defaults = {field.name: field.default for field in dataclasses.fields(parsed)}
        fields = {name: getattr(parsed, name) for name in protocol._FIELDS[message["type"]]}
        assert fields == {name: message.get(name, defaults.get(name)) for name in fields}


@settings(max_examples=300)
@given(valid_messages, st.text(min_size=1, max_size=20), json_values)
def test_unknown_fields_are_refused(message: dict[str, Any], name: str, value: object) -> None:
    if name in protocol._FIELDS[message["type"]] or name == "from":
        return
    outcome = parse_or_error(json.dumps({**message, name: value}))
    assert isinstance(outcome, ProtocolError) and outcome.code == "bad_message", outcome
    assert "Unknown field" in outcome.message


@settings(max_examples=100)
@given(st.sampled_from(["offer", "answer", "ice"]), peer_ids, json_values)
def test_only_signals_to_the_server_name_a_link_and_only_publish(kind: str, to: str, link: object) -> None:
    message = {"type": kind, "to": to, "link": link, **({"candidate": None} if kind == "ice" else {"sdp": "v=0"})}
    outcome = parse_or_error(json.dumps(message))
    if to == protocol.SERVER_PEER_ID and link in ("", "publish"):
        assert not isinstance(outcome, ProtocolError) and outcome.link == link  # type: ignore[union-attr]
    else:
        assert isinstance(outcome, ProtocolError) and outcome.code == "bad_field", outcome
        assert outcome.message == '`link` may only be "publish", on a signal to "server".'
