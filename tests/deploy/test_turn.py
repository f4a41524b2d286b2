"""coturn with the shipped deploy/turn/turnserver.conf, started by deploy/turn/entrypoint.sh.

It accepts exactly the TURN credentials Django hands out (signaling.ice.turn_credentials)
while they are fresh, and its relay refuses to reach private, loopback, link-local and
metadata addresses. A test-only override (allow loopback peers) lets one test carry
real data through the relay to a peer on 127.0.0.1.
"""

import secrets
import socket
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signaling.ice import turn_credentials
from tests.deploy.conftest import DEPLOY, Daemon, require, run
from tests.deploy.turn_client import FAMILY_IPV4, FAMILY_IPV6, XOR_RELAYED_ADDRESS, TurnClient
from tests.live_server import free_port

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
TTL = 600
SECRET = secrets.token_hex(24)

# Peers the production relay must never reach: loopback, RFC 1918, CGNAT, "this network",
# link-local and cloud metadata, multicast, and their IPv6 / IPv4-mapped counterparts.
DENIED_IPV4 = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "172.31.255.254", "192.168.1.1", "100.64.0.1",
    "100.127.255.254", "0.1.2.3", "169.254.169.254", "169.254.1.1", "224.0.0.251", "239.255.255.250",
    "255.255.255.255", "198.18.0.1",
]  # fmt: skip
DENIED_IPV6 = [
    "::1", "fd00::1", "fc12:3456::1", "fe80::1", "ff02::1", "64:ff9b::a00:1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "::ffff:172.16.0.1", "::ffff:192.168.0.1", "::ffff:100.64.0.1", "::ffff:169.254.169.254",
    # Local-use NAT64, 6to4 (here wrapping 10.0.0.1) and Teredo: each can carry traffic to an IPv4 host.
    "64:ff9b:1::a00:1", "64:ff9b:1:ffff::1", "2002:a00:1::1", "2002:ffff::1", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
]  # fmt: skip
# Public addresses stay reachable: a deny list that matches everything would pass the above.
ALLOWED_IPV4 = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1"]
ALLOWED_IPV6 = ["2001:4860:4860::8888", "2001:1::1", "2003::1", "64:ff9b:2::1", "::ffff:8.8.8.8"]
# What deploy/setup.sh writes into TURN_DENIED_PEER_IPS: the host's own public addresses.
OWN_ADDRESSES = ["198.51.100.7", "2001:db8::7"]


class TurnServer:
    """coturn on 127.0.0.1 (UDP and TLS on free ports), relaying on 127.0.0.1 and ::1."""

    def __init__(self, workdir: Path, config: Path, certificate: Path, env: dict[str, str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.runtime_config = workdir / "turnserver.conf"
        self.port = free_port()
        self.tls_port = free_port()
        self.daemon = Daemon(
            "coturn",
            [
                "sh", DEPLOY / "turn" / "entrypoint.sh",
                "--listening-ip=127.0.0.1", f"--listening-port={self.port}", f"--tls-listening-port={self.tls_port}",
                "--relay-ip=127.0.0.1", "--relay-ip=::1",
                f"--cert={certificate / 'fullchain.pem'}", f"--pkey={certificate / 'privkey.pem'}",
                f"--pidfile={workdir / 'turnserver.pid'}", f"--userdb={workdir / 'turndb'}", "--log-file=stdout",
            ],
            workdir,
            env={
                "TURN_CONFIG": str(config),
                "TURN_RUNTIME_CONFIG": str(self.runtime_config),
                "TURN_SHARED_SECRET": SECRET,
                "TURN_REALM": "turn.test",
                **(env or {}),
            },
        )  # fmt: skip
        self.daemon.wait_until(self._answers, 15, f"coturn on {self.host}:{self.port}")

    def _answers(self) -> bool:
        try:
            with TurnClient(self.host, self.port, timeout=0.3) as client:
                return client.binding().success
        except (TimeoutError, ConnectionError):
            return False

    def client(self, tls: ssl.SSLContext | None = None) -> TurnClient:
        return TurnClient(self.host, self.tls_port if tls else self.port, tls_context=tls)


def start_turn(
    tmp_path: Path, certificate: Path, *overrides: Path, env: dict[str, str] | None = None
) -> Iterator[TurnServer]:
    require("turnserver", "openssl")
    config = tmp_path / "turnserver.base.conf"
    config.write_text("\n".join(path.read_text() for path in (DEPLOY / "turn" / "turnserver.conf", *overrides)))
    server = TurnServer(tmp_path, config, certificate, env)
    yield server
    server.daemon.stop()


@pytest.fixture(scope="module")
def production_turn(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[TurnServer]:
    """coturn with the shipped config only."""
    yield from start_turn(tmp_path_factory.mktemp("coturn-production"), certificate)


@pytest.fixture(scope="module")
def loopback_turn(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[TurnServer]:
    """coturn with the shipped config plus the test-only override allowing 127.0.0.1 as a peer."""
    override = HERE / "turnserver-allow-loopback.conf"
    yield from start_turn(tmp_path_factory.mktemp("coturn-loopback"), certificate, override)


@pytest.fixture(scope="module")
def own_address_turn(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[TurnServer]:
    """coturn with the shipped config, told this host's public addresses as setup.sh finds them."""
    env = {"TURN_DENIED_PEER_IPS": ",".join(OWN_ADDRESSES)}
    yield from start_turn(tmp_path_factory.mktemp("coturn-own"), certificate, env=env)


@pytest.fixture
def signing(settings: Any) -> None:
    """Django signs TURN credentials with the secret coturn was started with."""
    settings.TURN_SHARED_SECRET = SECRET
    settings.TURN_CREDENTIAL_TTL = TTL


def test_fresh_credentials_from_django_get_a_relay(production_turn: TurnServer, signing: None):
    username, password = turn_credentials("42")

    with production_turn.client() as client:
        allocation = client.allocate(username, password)
        assert allocation.success, allocation
        assert client.realm == b"turn.test", "the realm comes from TURN_REALM"
        relay_ip, relay_port = allocation.xor_address(XOR_RELAYED_ADDRESS)
        assert relay_ip == "127.0.0.1"
        assert 49152 <= relay_port <= 49999, "relay ports come from the range the firewall opens"
        assert client.release().success


def test_fresh_credentials_work_over_tls(production_turn: TurnServer, signing: None, client_tls: ssl.SSLContext):
    username, password = turn_credentials("42")

    with production_turn.client(tls=client_tls) as client:
        assert client.sock.version() in {"TLSv1.2", "TLSv1.3"}  # type: ignore[attr-defined]
        allocation = client.allocate(username, password)
        assert allocation.success, allocation


def test_expired_credentials_are_refused(production_turn: TurnServer, signing: None):
    username, password = turn_credentials("42", now=time.time() - TTL - 60)

    with production_turn.client() as client:
        allocation = client.allocate(username, password)
    assert allocation.error_code == 401, allocation


def test_credentials_signed_with_another_secret_are_refused(production_turn: TurnServer, settings: Any):
    settings.TURN_SHARED_SECRET = secrets.token_hex(24)
    settings.TURN_CREDENTIAL_TTL = TTL
    username, password = turn_credentials("42")

    with production_turn.client() as client:
        allocation = client.allocate(username, password)
    assert allocation.error_code == 401, allocation


def test_a_password_does_not_fit_another_username(production_turn: TurnServer, signing: None):
    """mallory cannot stretch her credential's lifetime or take bob's user id."""
    username, password = turn_credentials("666")
    expiry, _ = username.split(":")
    for forged in (f"{int(expiry) + 86400}:666", f"{expiry}:42"):
        with production_turn.client() as client:
            allocation = client.allocate(forged, password)
        assert allocation.error_code == 401, (forged, allocation)


def test_production_relay_refuses_private_and_loopback_peers(production_turn: TurnServer, signing: None):
    answers = {}
    for family, denied, allowed in ((FAMILY_IPV4, DENIED_IPV4, ALLOWED_IPV4), (FAMILY_IPV6, DENIED_IPV6, ALLOWED_IPV6)):
        with production_turn.client() as client:
            username, password = turn_credentials("42")
            allocation = client.allocate(username, password, family)
            assert allocation.success, allocation
            answers.update({peer: client.create_permission(peer).error_code for peer in [*denied, *allowed]})

    assert answers == {
        **dict.fromkeys(DENIED_IPV4 + DENIED_IPV6, 403),
        **dict.fromkeys(ALLOWED_IPV4 + ALLOWED_IPV6, None),
    }


def test_relay_carries_data_to_a_permitted_peer(loopback_turn: TurnServer, signing: None):
    """End to end through the relay, with loopback allowed by the test-only override."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer, loopback_turn.client() as client:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(3)
        peer_port = peer.getsockname()[1]
        allocation = client.allocate(*turn_credentials("42"))
        assert allocation.success, allocation
        relay = allocation.xor_address(XOR_RELAYED_ADDRESS)
        assert client.create_permission("127.0.0.1").success

        client.send("127.0.0.1", peer_port, b"hello from alice")
        data, source = peer.recvfrom(2048)
        assert (data, source) == (b"hello from alice", relay)

        peer.sendto(b"hello from bob", relay)
        assert client.receive_data() == (("127.0.0.1", peer_port), b"hello from bob")


def test_loopback_override_still_refuses_other_private_peers(loopback_turn: TurnServer, signing: None):
    with loopback_turn.client() as client:
        assert client.allocate(*turn_credentials("42")).success
        assert client.create_permission("127.0.0.2").error_code == 403
        assert client.create_permission("10.0.0.1").error_code == 403


def test_the_secret_reaches_coturn_in_a_private_file_not_on_its_command_line(production_turn: TurnServer):
    command_line = Path(f"/proc/{production_turn.daemon.process.pid}/cmdline").read_bytes()
    assert b"turnserver" in command_line
    assert SECRET.encode() not in command_line
    assert stat.S_IMODE(production_turn.runtime_config.stat().st_mode) == 0o600
    assert f"static-auth-secret={SECRET}" in production_turn.runtime_config.read_text()


@pytest.mark.parametrize("secret", ["", "too-short", "has a space and is long enough for coturn"])
def test_entrypoint_refuses_a_missing_short_or_unreadable_secret(secret: str, tmp_path: Path):
    done = run(
        ["sh", DEPLOY / "turn" / "entrypoint.sh"],
        env={"TURN_SHARED_SECRET": secret, "TURN_RUNTIME_CONFIG": str(tmp_path / "turnserver.conf")},
    )
    assert done.returncode == 64, done.stderr
    assert "TURN_SHARED_SECRET" in done.stderr
    assert not (tmp_path / "turnserver.conf").exists()


def test_the_relay_refuses_the_hosts_own_public_addresses(own_address_turn: TurnServer, signing: None):
    """mallory cannot use the relay to reach services on this host's public address (nginx, SSH)."""
    answers = {}
    for family, peers in (
        (FAMILY_IPV4, ["198.51.100.7", "198.51.100.8"]),
        (FAMILY_IPV6, ["2001:db8::7", "2001:db8::8"]),
    ):
        with own_address_turn.client() as client:
            assert client.allocate(*turn_credentials("666"), family).success
            answers.update({peer: client.create_permission(peer).error_code for peer in peers})

    assert answers == {"198.51.100.7": 403, "2001:db8::7": 403, "198.51.100.8": None, "2001:db8::8": None}


def test_entrypoint_refuses_a_denied_address_that_is_not_one(tmp_path: Path):
    done = run(
        ["sh", DEPLOY / "turn" / "entrypoint.sh"],
        env={
            "TURN_SHARED_SECRET": SECRET,
            "TURN_DENIED_PEER_IPS": "198.51.100.7,1.2.3.4\nno-auth",
            "TURN_RUNTIME_CONFIG": str(tmp_path / "turnserver.conf"),
        },
    )
    assert done.returncode == 64, done.stderr
    assert "TURN_DENIED_PEER_IPS" in done.stderr
    assert not (tmp_path / "turnserver.conf").exists()


def test_one_credential_holds_at_most_user_quota_allocations(production_turn: TurnServer, signing: None):
    """mallory opens allocation after allocation with one credential: past user-quota (24) they are refused."""
    username, password = turn_credentials("666")
    clients = [production_turn.client() for _ in range(25)]
    results = []
    try:
        results = [client.allocate(username, password) for client in clients]
    finally:
        for client, result in zip(clients, results, strict=False):
            if result.success:
                client.release()  # give the allocations back now, not after their lifetime
        for client in clients:
            client.close()

    assert all(result.success for result in results[:24]), results[:24]
    assert results[24].error_code == 486, "Allocation Quota Reached"
