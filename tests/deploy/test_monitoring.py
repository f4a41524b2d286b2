"""Prometheus, its alerts and the Grafana dashboard agree with what the app exports.

promtool (Debian's prometheus package) checks the config and rules and runs alert unit
tests; then a scripted call against a real app process shows that every metric the
dashboard and the alerts name appears at /metrics, except those listed as pending or
exported by another program.
"""

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, load_yaml, require, run
from tests.deploy.web_client import Session
from tests.live_server import AppServer, Person, PostgresDatabase

pytestmark = pytest.mark.slow

PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "audioexchange.json"

# Named by the dashboard or the alerts before anything exports them (none now; the media
# worker's metrics ship with it). Add a name here only with the issue that will export it.
PENDING: set[str] = set()
# Exported by coturn's own exporter (`--prometheus`; names from coturn's prom_server.c),
# which Debian's coturn build lacks, so they cannot be checked here.
COTURN = {"turn_total_allocations"}
# Made by Prometheus itself for every target.
PROMETHEUS_SERIES = {"up"}

PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
PROMQL_KEYWORDS |= {"offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        followed_by_call = expr[match.end() :].lstrip().startswith("(")
        if not followed_by_call and match.group().lower() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


def test_metric_names_reads_promql_like_prometheus():
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{job="x", le!="1e3"}[5m]))) > 1e3 '
        "unless on() sum(max_over_time(b[$__rate_interval])) > 0 and c offset 5m"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c"}


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def referenced_metrics() -> set[str]:
    exprs = [rule["expr"] for rule in alert_rules()] + dashboard_exprs()
    return set().union(*(metric_names(expr) for expr in exprs))


# --- promtool -----------------------------------------------------------------------------


def test_prometheus_config_and_rules_pass_promtool():
    require("promtool")
    config = run(["promtool", "check", "config", PROMETHEUS / "prometheus.yml"])
    assert config.returncode == 0, config.stdout + config.stderr
    rules = run(["promtool", "check", "rules", PROMETHEUS / "alerts.yml"])
    assert rules.returncode == 0, rules.stdout + rules.stderr


ALERT_TESTS: list[dict[str, Any]] = [
    {
        "name": "every web process down",
        "input_series": [
            {"series": 'up{job="audioexchange-web", instance="web-1:8000"}', "values": "0x10"},
            {"series": 'up{job="audioexchange-web", instance="web-2:8000"}', "values": "0x10"},
        ],
        "alerts": {
            "SignalingDown": [{"exp_labels": {"severity": "critical"}}],
            "SignalingProcessDown": [
                {"exp_labels": {"severity": "warning", "job": "audioexchange-web", "instance": f"web-{n}:8000"}}
                for n in (1, 2)
            ],
        },
    },
    {
        "name": "no web target left at all",
        "input_series": [{"series": 'up{job="coturn", instance="host:9641"}', "values": "1x10"}],
        "alerts": {"SignalingDown": [{"exp_labels": {"severity": "critical"}}], "TurnServerDown": []},
    },
    {
        "name": "one of two web processes down",
        "input_series": [
            {"series": 'up{job="audioexchange-web", instance="web-1:8000"}', "values": "1x10"},
            {"series": 'up{job="audioexchange-web", instance="web-2:8000"}', "values": "0x10"},
        ],
        "alerts": {"SignalingDown": []},
    },
    {
        "name": "coturn refuses the credentials Django issues",
        "input_series": [
            {"series": "audioexchange_turn_credentials_issued_total", "values": "0+2x60"},
            {"series": 'turn_total_allocations{type="UDP"}', "values": "0x60"},
            {"series": 'up{job="coturn", instance="host:9641"}', "values": "1x60"},
        ],
        "alerts": {"TurnCredentialsRejected": [{"exp_labels": {"severity": "critical"}}], "TurnServerDown": []},
    },
    {
        "name": "credentials issued and used",
        "input_series": [
            {"series": "audioexchange_turn_credentials_issued_total", "values": "0+2x60"},
            {"series": 'turn_total_allocations{type="UDP"}', "values": "0 3x59"},
        ],
        "alerts": {"TurnCredentialsRejected": []},
    },
    {
        "name": "nobody in a call",
        "input_series": [{"series": "audioexchange_turn_credentials_issued_total", "values": "7x60"}],
        "alerts": {"TurnCredentialsRejected": []},
    },
]


def expected_alert(rule: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    """promtool compares annotations too: take them from the rule (only template-free ones
    and `$labels.instance` are used in these cases)."""
    labels = alert["exp_labels"]
    annotations = {
        key: value.replace("{{ $labels.instance }}", labels.get("instance", ""))
        for key, value in rule.get("annotations", {}).items()
    }
    return {"exp_labels": labels, "exp_annotations": annotations}


@pytest.mark.parametrize("case", ALERT_TESTS, ids=[case["name"] for case in ALERT_TESTS])
def test_alerts_fire_when_they_should_and_only_then(case: dict[str, Any], tmp_path: Path):
    require("promtool")
    rules = {rule["alert"]: rule for rule in alert_rules()}
    eval_time = "60m" if any(s["values"].endswith("x60") for s in case["input_series"]) else "10m"
    tests = {
        "rule_files": [str(PROMETHEUS / "alerts.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": case["input_series"],
                "alert_rule_test": [
                    {
                        "eval_time": eval_time,
                        "alertname": name,
                        "exp_alerts": [expected_alert(rules[name], alert) for alert in alerts],
                    }
                    for name, alerts in case["alerts"].items()
                ],
            }
        ],
    }
    # JSON is YAML: promtool reads it as is.
    (tmp_path / "alerts_test.yml").write_text(json.dumps(tests, indent=1))

    done = run(["promtool", "test", "rules", tmp_path / "alerts_test.yml"])

    assert done.returncode == 0, done.stdout + done.stderr


# --- The dashboard ------------------------------------------------------------------------


def test_dashboard_reads_the_provisioned_prometheus():
    provisioned = load_yaml((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = provisioned["datasources"][0]["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]

    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    assert {panel["datasource"]["uid"] for panel in panels} == {uid}
    assert all(panel["targets"] for panel in panels)


def test_pending_and_external_lists_hold_only_names_in_use():
    """A name the dashboard and alerts dropped must leave these lists, or they hide nothing."""
    assert referenced_metrics() >= PENDING | COTURN | PROMETHEUS_SERIES


# --- A scripted call, then /metrics -------------------------------------------------------

ALICE, BOB, MALLORY = Person("alice", "Alice A."), Person("bob", "Bob B."), Person("mallory")


@pytest.fixture(scope="module")
def turn_app(live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One app process with TURN configured, so `welcome` issues credentials."""
    env = {
        "STUN_URLS": "stun:127.0.0.1:3478",
        "TURN_URLS": "turn:127.0.0.1:3478?transport=udp",
        "TURN_SHARED_SECRET": secrets.token_hex(24),
    }
    server = AppServer(live_database.url, tmp_path_factory.mktemp("static"), env=env, name="metrics-app")
    server.prepare()
    server.create_users([ALICE, BOB, MALLORY])
    server.manage("createroom", "metrics-room", "--owner", "alice")
    server.start()
    yield server
    server.close()


def scripted_call_then_metrics(app: AppServer) -> str:
    """alice and bob meet, bob signals, reports call quality and sends garbage, mallory knocks
    on a missing room;
    /metrics is read while the call is still on."""
    alice, bob, mallory = (Session(app.url) for _ in range(3))
    for session, person in ((alice, ALICE), (bob, BOB), (mallory, MALLORY)):
        session.log_in(person.username, person.password)
    with alice.websocket("/ws/rooms/metrics-room/") as alice_ws, bob.websocket("/ws/rooms/metrics-room/") as bob_ws:
        alice_ws.receive_json()
        welcome = bob_ws.receive_json()
        assert welcome["ice_servers"][1]["username"], "TURN credentials were issued"
        assert alice_ws.receive_json()["type"] == "peer-joined"
        bob_ws.send_json({"type": "offer", "to": welcome["peers"][0]["peer_id"], "sdp": "v=0\r\n"})
        assert alice_ws.receive_json()["type"] == "offer"
        bob_ws.send_text("this is not json")
        assert bob_ws.receive_json()["code"] == "bad_json"
        quality = {"rtt_ms": 35, "packet_loss": 0.002, "inbound_kbps": 800, "outbound_kbps": 750}
        bob_ws.send_json({"type": "stats", "path": "direct", **quality})
        bob_ws.send_json({"type": "ping"})
        assert bob_ws.receive_json()["type"] == "pong", "the stats report was taken without an error"
        with mallory.websocket("/ws/rooms/no-such-room/") as mallory_ws:
            assert mallory_ws.receive_json()["code"] == "room_not_found"
        return Session(app.url).request("GET", "/metrics").body.decode()


def test_every_metric_on_the_dashboard_and_in_alerts_is_exported(turn_app: AppServer):
    exported = scripted_call_then_metrics(turn_app)
    sampled = {line.split("{")[0].split(" ")[0] for line in exported.splitlines() if line and line[0] != "#"}

    expected = referenced_metrics() - PENDING - COTURN - PROMETHEUS_SERIES

    assert expected - sampled == set(), "named by the dashboard or alerts, missing from /metrics"
    for name in ("audioexchange_signaling_participants", "audioexchange_signaling_active_rooms"):
        assert re.search(rf"^{name} [1-9]", exported, re.MULTILINE), f"{name} should count the call"
