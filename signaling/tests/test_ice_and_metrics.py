"""TURN credentials in `welcome`, and the figures operators see at /metrics."""

import base64
import hashlib
import hmac
import time

import pytest
from django.test import Client, override_settings

from accounts.models import User
from rooms.models import Room
from signaling.tests.conftest import Connect, enter
from signaling.tests.test_relay import SDP

pytestmark = pytest.mark.django_db(transaction=True)

TURN = {
    "STUN_URLS": ["stun:turn.example.org:3478"],
    "TURN_URLS": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
    "TURN_SHARED_SECRET": "s3cret",
    "TURN_CREDENTIAL_TTL": 600,
}


@override_settings(**TURN)
async def test_welcome_carries_short_lived_turn_credentials_for_this_user(connect: Connect, bob: User, room: Room):
    bob_ws = await connect(bob)
    servers = (await bob_ws.join())["ice_servers"]

    assert servers[0] == {"urls": TURN["STUN_URLS"]}
    turn = servers[1]
    assert turn["urls"] == TURN["TURN_URLS"]
    expiry, user_key = turn["username"].split(":")
    assert user_key == str(bob.pk)
    assert 590 <= int(expiry) - time.time() <= 600
    expected = hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected


async def test_without_turn_settings_no_credentials_are_handed_out(connect: Connect, bob: User, room: Room):
    bob_ws = await connect(bob)
    assert (await bob_ws.join())["ice_servers"] == []


async def test_metrics_show_sockets_relays_refusals_and_errors(
    connect: Connect, alice: User, bob: User, mallory: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await bob_ws.send({"type": "offer", "to": alice_ws.peer_id, "sdp": SDP})
    await alice_ws.receive(), await alice_ws.receive()
    await bob_ws.send("nonsense")
    await bob_ws.expect_error("bad_json")
    await (await connect(mallory, slug="nowhere")).expect_error("room_not_found")

    from asgiref.sync import sync_to_async

    body = await sync_to_async(lambda: Client().get("/metrics").content.decode())()

    assert 'audioexchange_signaling_messages_relayed_total{type="offer"}' in body
    assert 'audioexchange_signaling_connections_refused_total{reason="room_not_found"}' in body
    assert 'audioexchange_signaling_errors_total{code="bad_json"}' in body
    assert metric_value(body, "audioexchange_signaling_participants") == 2
    assert metric_value(body, "audioexchange_signaling_active_rooms") == 1
    assert metric_value(body, "audioexchange_signaling_open_sockets") >= 2
    assert "django_http_requests_total_by_method_total" in body


def metric_value(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_call_quality_reports_become_histograms_by_room_kind_never_by_person(
    connect: Connect, bob: User, room: Room
):
    bob_ws = await enter(connect, bob)
    report = {"type": "stats", "rtt_ms": 42.5, "packet_loss": 0.01, "inbound_kbps": 900, "outbound_kbps": 850}
    await bob_ws.send({**report, "path": "relayed"})
    await bob_ws.send(
        {
            "type": "stats",
            "rtt_ms": None,
            "packet_loss": None,
            "inbound_kbps": None,
            "outbound_kbps": None,
            "path": "direct",
        }
    )
    for bad in (
        {**report, "rtt_ms": -1},
        {**report, "packet_loss": 2},
        {**report, "path": "moon"},
        {**report, "rtt_ms": "fast"},
        {**report, "user": "bob"},
    ):
        await bob_ws.send(bad)
        assert (await bob_ws.receive())["type"] == "error"
    await bob_ws.send({"type": "ping"})
    assert await bob_ws.receive() == {"type": "pong"}, "reports are not answered"

    from asgiref.sync import sync_to_async

    body = await sync_to_async(lambda: Client().get("/metrics").content.decode())()

    assert 'audioexchange_call_quality_reports_total{path="relayed",room_kind="video"} 1.0' in body
    assert 'audioexchange_call_rtt_seconds_bucket{le="0.05",path="relayed",room_kind="video"} 1.0' in body
    assert 'audioexchange_call_bitrate_kbps_count{direction="in",room_kind="video"} 1.0' in body
    assert "bob" not in body and "standup" not in body


# TURN credentials are rationed per person (issue 12) -----------------------------------


@override_settings(**TURN, TURN_CREDENTIALS_PER_HOUR=3)
async def test_past_the_hourly_allowance_welcome_has_no_turn_and_says_why(
    connect: Connect, mallory: User, bob: User, room: Room
):
    """mallory reconnects in a loop to mint TURN credentials: the fourth welcome has STUN only."""
    for _ in range(3):
        socket = await connect(mallory)
        assert len((await socket.join())["ice_servers"]) == 2
        await socket.ws.disconnect()

    socket = await connect(mallory)
    welcome = await socket.join()
    assert welcome["ice_servers"] == [{"urls": TURN["STUN_URLS"]}], "no TURN credential"
    notice = await socket.expect_error("turn_throttled")
    assert "rejoin in" in notice["message"]
    await socket.send({"type": "ping"})
    assert (await socket.receive())["type"] == "pong", "the call goes on"

    bob_ws = await connect(bob)
    assert len((await bob_ws.join())["ice_servers"]) == 2, "bob has his own allowance"


@override_settings(**TURN, TURN_CREDENTIALS_PER_HOUR=2)
def test_the_ice_servers_endpoint_counts_with_welcome_and_refuses_with_a_code(client: Client, mallory: User):
    client.force_login(mallory)
    assert [client.get("/ice-servers/").status_code for _ in range(2)] == [200, 200]

    response = client.get("/ice-servers/")

    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "turn_throttled"
    assert "relay (TURN)" in body["message"]
    assert body["ice_servers"] == [{"urls": TURN["STUN_URLS"]}]
