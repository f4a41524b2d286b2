"""deploy/setup.sh and deploy/docker-compose.yml, on a copy of deploy/ in a temp dir.

setup.sh makes .env and a certificate once and never overwrites them; Debian's
`docker-compose config` (no Docker engine needed) accepts the compose file with that
.env and refuses it without; the services expose only what they should.
"""

import re
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, load_yaml, require, run
from tests.live_server import ROOT

pytestmark = pytest.mark.slow

SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "TURN_SHARED_SECRET", "GRAFANA_ADMIN_PASSWORD")
# Settings compose deliberately leaves alone: baked into the image, or development-only.
NOT_FOR_COMPOSE = {"STATIC_ROOT", "ALLOW_DEV_SECRET_KEY"}
# Compose does not run Janus yet (issue 11; docs/janus.md): the app's Janus settings come with it.
NOT_FOR_COMPOSE |= {"JANUS_URLS", "JANUS_API_SECRET", "JANUS_ADMIN_KEY"}


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
    published = {name: published_ports(service) for name, service in services.items() if service.get("ports")}

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
