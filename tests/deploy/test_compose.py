"""deploy/setup.sh and deploy/docker-compose.yml, on a copy of deploy/ in a temp dir.

setup.sh makes .env and a certificate once and never overwrites them; Debian's
`docker-compose config` (no Docker engine needed) accepts the compose file with that
.env and refuses it without; the services expose only what they should.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.deploy.conftest import DEPLOY, load_yaml, require, run
from tests.live_server import ROOT, free_port, wait_for

pytestmark = pytest.mark.slow

JANUS_SECRETS = ("JANUS_API_SECRET", "JANUS_ADMIN_KEY", "JANUS_ADMIN_SECRET")
SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "TURN_SHARED_SECRET", "GRAFANA_ADMIN_PASSWORD", *JANUS_SECRETS)
# Settings compose deliberately leaves alone: baked into the image, or development-only.
NOT_FOR_COMPOSE = {"STATIC_ROOT", "ALLOW_DEV_SECRET_KEY"}
JANUS = ("janus1", "janus2")
COTURN_RELAY_PORTS = range(49152, 50000)  # deploy/turn/turnserver.conf min-port..max-port


@pytest.fixture
def deploy_copy(tmp_path: Path) -> Path:
    """deploy/ as shipped (without any local .env, certificate or ACME files), under tmp/."""
    require("openssl")
    shutil.copytree(DEPLOY, tmp_path / "deploy", ignore=shutil.ignore_patterns(".env", "certs", "acme"))
    return tmp_path / "deploy"


def setup(deploy: Path, *args: str) -> Any:
    return run(["bash", deploy / "setup.sh", *args], cwd=deploy.parent)


def env_values(deploy: Path) -> dict[str, str]:
    lines = (deploy / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line))


def snapshot(deploy: Path) -> dict[str, bytes]:
    files = [deploy / ".env", deploy / "certs" / "fullchain.pem", deploy / "certs" / "privkey.pem"]
    return {path.name: path.read_bytes() for path in files}


def compose_config(deploy: Path) -> Any:
    require("docker-compose")
    # As the docs run it, from the checkout's root; .env is read from the compose file's directory.
    return run(["docker-compose", "-f", deploy / "docker-compose.yml", "config"], cwd=deploy.parent)


# --- setup.sh ------------------------------------------------------------------------------


def test_setup_creates_env_secrets_and_a_private_certificate(deploy_copy: Path):
    done = setup(deploy_copy, "call.example.org")
    assert done.returncode == 0, done.stderr

    values = env_values(deploy_copy)
    assert values["DOMAIN"] == "call.example.org"
    generated = [values[key] for key in SECRETS]
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in generated), "64 hex digits, safe in URLs and .env"
    assert len(set(generated)) == len(SECRETS), "every secret is its own"
    assert all(secret not in done.stdout + done.stderr for secret in generated), "secrets are never printed"
    assert stat.S_IMODE((deploy_copy / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((deploy_copy / "certs" / "privkey.pem").stat().st_mode) == 0o600

    subject = run(
        [
            "openssl",
            "x509",
            "-in",
            deploy_copy / "certs" / "fullchain.pem",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
        ]
    )
    assert "CN = call.example.org" in subject.stdout
    assert "DNS:call.example.org" in subject.stdout


def test_setup_run_again_changes_nothing(deploy_copy: Path):
    assert setup(deploy_copy, "call.example.org").returncode == 0
    before = snapshot(deploy_copy)

    assert setup(deploy_copy).returncode == 0
    assert setup(deploy_copy, "call.example.org").returncode == 0

    assert snapshot(deploy_copy) == before


def test_setup_keeps_what_the_operator_set_and_fills_only_what_is_missing(deploy_copy: Path):
    assert setup(deploy_copy, "call.example.org").returncode == 0
    first = env_values(deploy_copy)
    env = deploy_copy / ".env"
    edited = env.read_text().replace(f"SECRET_KEY={first['SECRET_KEY']}", "SECRET_KEY=chosen-by-the-operator")
    edited = re.sub(r"(?m)^GRAFANA_ADMIN_PASSWORD=.*\n", "", edited)  # an .env from before Grafana
    edited = edited.replace(f"TURN_SHARED_SECRET={first['TURN_SHARED_SECRET']}", "TURN_SHARED_SECRET=")
    env.write_text(edited)

    done = setup(deploy_copy)

    assert done.returncode == 0, done.stderr
    second = env_values(deploy_copy)
    assert second["SECRET_KEY"] == "chosen-by-the-operator"
    assert second["POSTGRES_PASSWORD"] == first["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"[0-9a-f]{64}", second["GRAFANA_ADMIN_PASSWORD"])
    assert re.fullmatch(r"[0-9a-f]{64}", second["TURN_SHARED_SECRET"])
    assert second["TURN_SHARED_SECRET"] != first["TURN_SHARED_SECRET"]


def test_setup_refuses_to_switch_domain_or_touch_an_existing_certificate(deploy_copy: Path):
    certs = deploy_copy / "certs"
    certs.mkdir()
    (certs / "fullchain.pem").write_text("the operator's Let's Encrypt chain")
    (certs / "privkey.pem").write_text("the operator's key")
    assert setup(deploy_copy, "call.example.org").returncode == 0
    before = snapshot(deploy_copy)

    done = setup(deploy_copy, "other.example.org")

    assert done.returncode != 0
    assert "DOMAIN=call.example.org" in done.stderr
    assert snapshot(deploy_copy) == before
    assert (certs / "privkey.pem").read_text() == "the operator's key"


# --- docker-compose ------------------------------------------------------------------------


def test_compose_refuses_to_run_without_the_generated_env(deploy_copy: Path):
    done = compose_config(deploy_copy)
    assert done.returncode != 0
    assert "setup.sh" in done.stderr


@pytest.fixture
def services(deploy_copy: Path) -> dict[str, Any]:
    assert setup(deploy_copy, "call.example.org").returncode == 0
    done = compose_config(deploy_copy)
    assert done.returncode == 0, done.stderr
    return load_yaml(done.stdout)["services"]  # type: ignore[no-any-return]


def test_compose_accepts_the_file_with_the_generated_env(services: dict[str, Any]):
    assert {
        "web-1",
        "web-2",
        "web-3",
        "worker",
        "redis",
        "postgres",
        "coturn",
        "nginx",
        "prometheus",
        "grafana",
    } <= set(services)
    web = services["web-1"]["environment"]
    assert web["ALLOWED_HOSTS"].split(",")[0] == "call.example.org"
    assert web["CSRF_TRUSTED_ORIGINS"] == "https://call.example.org"
    assert web["REDIS_URL"].startswith("redis://redis:")
    assert web["TURN_URLS"].startswith("turn:call.example.org:3478")


def published_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, host port) of each published port, in the short or the long syntax."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((str(port.get("host_ip", "")), str(port.get("published", ""))))
        else:
            *address, published, _target = str(port).split(":")
            ports.append((address[0] if address else "", published))
    return ports


def test_only_nginx_faces_the_internet_and_monitoring_stays_on_loopback(services: dict[str, Any]):
    published = {
        name: published_ports(service)
        for name, service in services.items()
        if service.get("ports") and name not in JANUS
    }

    assert published == {
        "nginx": [("", "80"), ("", "443")],
        "prometheus": [("127.0.0.1", "9090")],
        "grafana": [("127.0.0.1", "3000")],
    }
    assert services["coturn"]["network_mode"] == "host", "TURN relays on the host's own addresses"


def test_every_web_process_gets_the_same_secrets_and_all_app_settings(services: dict[str, Any]):
    environments = [services[name]["environment"] for name in ("web-1", "web-2", "web-3", "worker", "migrate")]
    for key in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TURN_SHARED_SECRET"):
        assert len({environment[key] for environment in environments}) == 1, key

    settings_text = (ROOT / "audioexchange" / "settings.py").read_text()
    read_by_settings = set(re.findall(r"env_\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", settings_text))
    assert read_by_settings - NOT_FOR_COMPOSE - set(environments[0]) == set(), "settings compose does not pass on"


def test_coturn_and_django_share_the_turn_secret_but_not_on_a_command_line(services: dict[str, Any]):
    coturn, web = services["coturn"], services["web-1"]
    secret = web["environment"]["TURN_SHARED_SECRET"]
    assert coturn["environment"]["TURN_SHARED_SECRET"] == secret
    assert secret not in " ".join(coturn.get("command", []) + coturn.get("entrypoint", []))
    assert "--prometheus" in coturn["command"]


def test_every_web_service_is_balanced_scraped_and_allowed_as_host(services: dict[str, Any]):
    """Scaling touches four places; they must name the same processes."""
    web = {name for name in services if re.fullmatch(r"web-\d+", name)}
    upstreams = (DEPLOY / "nginx" / "upstreams.conf").read_text()
    blocks = re.findall(r"upstream (\w+) \{(.*?)\}", upstreams, re.DOTALL)
    prometheus = load_yaml((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "audioexchange-web")
    scraped = {target for static in job["static_configs"] for target in static["targets"]}

    assert len(web) >= 2
    assert {name for name, _ in blocks} == {"audioexchange_rooms", "audioexchange_pages"}
    for name, body in blocks:
        assert set(re.findall(r"server (\S+?):8000\b", body)) == web, name
    assert scraped == {f"{name}:8000" for name in web}
    for name in web:
        assert set(services[name]["environment"]["ALLOWED_HOSTS"].split(",")) >= web


def test_certbot_hook_installs_the_renewed_certificate_and_reloads(deploy_copy: Path, tmp_path: Path):
    assert setup(deploy_copy, "call.example.org").returncode == 0
    lineage = tmp_path / "letsencrypt" / "live" / "call.example.org"
    lineage.mkdir(parents=True)
    (lineage / "fullchain.pem").write_text("renewed chain")
    (lineage / "privkey.pem").write_text("renewed key")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "docker").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "docker.log"}\n')
    (fake_bin / "docker").chmod(0o755)

    done = run(
        ["sh", deploy_copy / "renew-certificate.sh"],
        env={"RENEWED_LINEAGE": str(lineage), "PATH": f"{fake_bin}:/usr/bin:/bin"},
    )

    assert done.returncode == 0, done.stderr
    certs = deploy_copy / "certs"
    assert (certs / "fullchain.pem").read_text() == "renewed chain"
    assert (certs / "privkey.pem").read_text() == "renewed key"
    assert stat.S_IMODE((certs / "privkey.pem").stat().st_mode) == 0o600
    calls = (tmp_path / "docker.log").read_text().splitlines()
    assert calls == ["compose version", "compose exec -T nginx nginx -s reload", "compose restart coturn"]


def test_env_example_documents_every_variable_compose_reads():
    compose = (DEPLOY / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
    documented = set(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=", (DEPLOY / ".env.example").read_text()))
    assert used - documented == set()
    assert documented - used == set(), "variables in .env.example that compose ignores"


# --- Janus ---------------------------------------------------------------------------------


def janus_udp_ports(service: dict[str, Any]) -> set[int]:
    """The host ports a Janus service publishes (compose lists a range port by port)."""
    ports = set()
    for port in service.get("ports", []):
        assert isinstance(port, dict), port
        assert port["protocol"] == "udp", f"{port}: Janus publishes media (UDP) only"
        assert str(port["published"]) == str(port["target"]), "ports as in the SDP: published as they are"
        assert not port.get("host_ip"), "media ports face the Internet"
        ports.add(int(port["published"]))
    return ports


def test_two_janus_instances_publish_only_their_own_rtp_range(services: dict[str, Any]):
    ranges = {}
    for name in JANUS:
        service = services[name]
        low, high = (int(port) for port in service["environment"]["JANUS_RTP_PORT_RANGE"].split("-"))
        ranges[name] = set(range(low, high + 1))
        assert janus_udp_ports(service) == ranges[name], f"{name} publishes exactly the range Janus uses"
        assert 8188 not in janus_udp_ports(service), "the WebSocket API is never published"
        assert "network_mode" not in service, "on the compose network, where only the app reaches its API"

    assert not ranges["janus1"] & ranges["janus2"], "the two instances' RTP ranges do not overlap"
    for name in JANUS:
        assert not ranges[name] & set(COTURN_RELAY_PORTS), f"{name}'s range overlaps coturn's relay ports"


def test_the_app_reaches_both_janus_with_the_secrets_janus_was_given(services: dict[str, Any]):
    for name in ("web-1", "web-2", "web-3", "worker"):
        app = services[name]["environment"]
        assert app["JANUS_URLS"].split(",") == [f"ws://{janus}:8188" for janus in JANUS]
        for janus in JANUS:
            environment = services[janus]["environment"]
            assert environment["JANUS_WS_PORT"] == "8188"
            assert environment["JANUS_API_SECRET"] == app["JANUS_API_SECRET"]
            assert environment["JANUS_ADMIN_KEY"] == app["JANUS_ADMIN_KEY"]
    secrets = {services[janus]["environment"][key] for janus in JANUS for key in JANUS_SECRETS}
    assert len(secrets) == len(JANUS_SECRETS), "each secret is its own, shared by both instances"
    assert all(re.fullmatch(r"[0-9a-f]{64}", secret) for secret in secrets), "generated by setup.sh"
    assert "JANUS_ADMIN_SECRET" not in services["web-1"]["environment"], "the app never needs the Admin API"


@pytest.mark.parametrize("missing", JANUS_SECRETS)
def test_compose_refuses_to_start_janus_without_a_generated_secret(deploy_copy: Path, missing: str):
    assert setup(deploy_copy, "call.example.org").returncode == 0
    env = deploy_copy / ".env"
    env.write_text(re.sub(rf"(?m)^{missing}=.*$", f"{missing}=", env.read_text()))

    done = compose_config(deploy_copy)

    assert done.returncode != 0, f"compose ran Janus with an empty {missing} (no default may stand in)"
    assert missing in done.stderr
    assert "setup.sh" in done.stderr


def test_compose_janus_environment_starts_debian_janus_through_the_image_entrypoint(
    services: dict[str, Any], tmp_path: Path
):
    """deploy/janus/entrypoint.sh with janus1's environment from compose (test port, a
    temporary folder): Janus runs, binds its API to this host's own address only, and
    refuses a request without the API secret that compose gave it."""
    require("janus", "hostname")
    port = free_port()
    environment = {key: str(value) for key, value in services["janus1"]["environment"].items()}
    environment |= {"JANUS_WS_PORT": str(port), "JANUS_CONFIG_DIR": str(tmp_path / "config")}
    address = run(["hostname", "-i"]).stdout.split()[0]
    url = f"ws://{address}:{port}"
    with (tmp_path / "janus.log").open("wb") as log:
        janus = subprocess.Popen(
            [DEPLOY / "janus" / "entrypoint.sh"],
            env={"PATH": os.environ["PATH"], **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: janus_answers(url, janus), timeout=30, what="janus started by entrypoint.sh")
        listening = run(["ss", "-H", "-ltnp"]).stdout.splitlines()
        assert [line.split()[3] for line in listening if f"pid={janus.pid}," in line] == [f"{address}:{port}"]
        health = run(
            [DEPLOY / "janus" / "healthcheck.sh"], env={"PATH": os.environ["PATH"], "JANUS_WS_PORT": str(port)}
        )
        assert health.returncode == 0, health.stderr

        refused = janus_request(url, {"janus": "create", "transaction": "no-secret"})
        created = janus_request(
            url, {"janus": "create", "transaction": "secret", "apisecret": environment["JANUS_API_SECRET"]}
        )
    finally:
        os.killpg(janus.pid, signal.SIGTERM)
        janus.wait(10)
    assert refused["janus"] == "error" and refused["error"]["code"] == 403, refused
    assert created["janus"] == "success", created
    rendered = (tmp_path / "config" / "janus.jcfg").read_text()
    assert environment["JANUS_RTP_PORT_RANGE"] in rendered
    assert 'server_name = "janus1"' in rendered


def janus_request(url: str, message: dict[str, Any]) -> Any:
    with connect(url, subprotocols=[Subprotocol("janus-protocol")], open_timeout=5) as ws:
        ws.send(json.dumps(message))
        return json.loads(ws.recv(timeout=5))


def janus_answers(url: str, janus: subprocess.Popen[bytes]) -> bool:
    assert janus.poll() is None, f"entrypoint.sh exited with {janus.returncode}"
    try:
        return bool(janus_request(url, {"janus": "info", "transaction": "ready"})["janus"] == "server_info")
    except (OSError, TimeoutError):
        return False


def test_janus_runs_unprivileged_as_the_user_that_owns_the_shared_media_volume(services: dict[str, Any]):
    """Janus writes a room's recordings into the media volume the app reads and writes."""

    def user_id(dockerfile: Path) -> str:
        found = re.search(r"useradd [^\n]*--uid (\d+)", dockerfile.read_text())
        assert found, f"{dockerfile} creates no user with a fixed id"
        return found.group(1)

    janus_image = DEPLOY / "janus" / "Dockerfile"
    assert user_id(janus_image) == user_id(ROOT / "Dockerfile") != "0"
    assert re.search(r"(?m)^USER app$", janus_image.read_text()), "Janus does not run as root"
    for name in JANUS:
        # docker-compose 1.x prints volumes as `source:target:mode` strings.
        assert "media:/data/media:rw" in services[name]["volumes"], name


def test_setup_tells_coturn_the_hosts_own_public_address(deploy_copy: Path):
    """The relay must not reach this host itself: setup.sh fills TURN_DENIED_PEER_IPS once."""
    assert setup(deploy_copy, "localhost").returncode == 0
    assert env_values(deploy_copy)["TURN_DENIED_PEER_IPS"] == "", "localhost has no public address"
    env = deploy_copy / ".env"
    env.write_text(env.read_text().replace("TURN_EXTERNAL_IP=\n", "TURN_EXTERNAL_IP=203.0.113.10/10.0.0.5\n"))

    done = setup(deploy_copy)

    assert done.returncode == 0, done.stderr
    assert env_values(deploy_copy)["TURN_DENIED_PEER_IPS"] == "203.0.113.10"
    assert "TURN_DENIED_PEER_IPS" in done.stdout
