"""The shipped deploy/nginx config in front of two real app processes.

The test copies deploy/nginx/ and changes only what must differ on a test machine: the
listen addresses (free loopback ports), the upstream servers (the two app processes), the
ACME and media directories. Everything else (TLS, headers, limits, affinity) is the file
that ships. Both app processes share one PostgreSQL database and one Redis.
"""

import json
import os
import re
import secrets
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, Daemon, require, run
from tests.deploy.web_client import Closed, HandshakeRefused, Session, WebSocket
from tests.live_server import AppServer, Person, PostgresDatabase, free_port

pytestmark = pytest.mark.slow

# A Redis database of its own (the root conftest flushes TEST_REDIS_URL's, bench/ flushes 13);
# room names are random, so runs never meet and nothing needs flushing.
REDIS_URL = "redis://127.0.0.1:6379/12"
ROOMS = [f"nginx-{index}-{secrets.token_hex(3)}" for index in range(12)]
SPLIT_ROOM = f"split-{secrets.token_hex(3)}"
ALICE, BOB, MALLORY = Person("alice", "Alice A."), Person("bob", "Bob B."), Person("mallory", "Mallory")
VAULT, VAULT_PASSWORD = f"vault-{secrets.token_hex(3)}", "correct horse battery"


@dataclass
class Proxy:
    """nginx on two loopback ports, in front of `apps`."""

    http_url: str
    https_url: str
    conf: Path
    daemon: Daemon
    apps: list[AppServer]
    media: Path


def proxy_config(tmp: Path, certificate: Path, upstreams: list[str], http_port: int, https_port: int) -> Path:
    """Copy deploy/nginx/ into `tmp`, pointed at local ports and directories; return nginx.conf."""
    conf = tmp / "conf"
    shutil.copytree(DEPLOY / "nginx", conf)
    shutil.copy("/etc/nginx/mime.types", conf / "mime.types")
    shutil.copytree(certificate, conf / "certs")

    main = (conf / "nginx.conf").read_text()
    main, plain = re.subn(r"listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;", main)
    main, tls = re.subn(r"listen 443 ssl default_server;", f"listen 127.0.0.1:{https_port} ssl default_server;", main)
    main, ipv6 = re.subn(r"\n\s*listen \[::\]:\d+[^;]*;", "", main)
    main, acme = re.subn(r"root /var/www/acme;", f"root {tmp / 'acme'};", main)
    main, media = re.subn(r"alias /srv/media/;", f"alias {tmp / 'media'}/;", main)
    assert (plain, tls, ipv6, acme, media) == (1, 1, 2, 1, 1), "deploy/nginx/nginx.conf changed shape: update this test"
    (conf / "nginx.conf").write_text(main)

    shipped = (conf / "upstreams.conf").read_text()
    replaced = re.sub(
        r"(?m)^([ \t]*)server web-1:8000([^;]*);\n",
        lambda match: "".join(f"{match[1]}server {address}{match[2]};\n" for address in upstreams),
        shipped,
    )
    replaced = re.sub(r"(?m)^[ \t]*server web-\d+:8000[^;]*;\n", "", replaced)
    assert replaced.count("server ") == 2 * len(upstreams), replaced
    (conf / "upstreams.conf").write_text(replaced)
    return conf / "nginx.conf"


def nginx_command(conf: Path, *args: str) -> list[str]:
    prefix = conf.parent.parent
    return ["nginx", "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log"), *args]


@pytest.fixture(scope="module")
def apps(live_database: PostgresDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AppServer]]:
    """Two app processes over one database and one Redis, with alice, bob and the rooms."""
    static_root = tmp_path_factory.mktemp("static")
    # Like the compose replicas: one SECRET_KEY, or a session signed by one is void on the other.
    # BEHIND_PROXY: trust nginx's X-Forwarded-Proto and X-Forwarded-For, as compose does.
    env = {"REDIS_URL": REDIS_URL, "SECRET_KEY": secrets.token_urlsafe(50), "BEHIND_PROXY": "1"}
    servers = [AppServer(live_database.url, static_root, env=env, name=f"app-{n}") for n in (1, 2)]
    servers[0].prepare()
    servers[0].create_users([ALICE, BOB, MALLORY])
    servers[0].manage("createroom", *ROOMS, SPLIT_ROOM, "--owner", "alice")
    servers[0].manage("createroom", VAULT, "--owner", "alice", "--password", VAULT_PASSWORD)
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.close()


@pytest.fixture(scope="module")
def proxy(apps: list[AppServer], certificate: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    require("nginx", "openssl")
    tmp = tmp_path_factory.mktemp("nginx")
    (tmp / "acme" / ".well-known" / "acme-challenge").mkdir(parents=True)
    (tmp / "acme" / ".well-known" / "acme-challenge" / "token-1").write_text("proof-1")
    (tmp / "media" / "recordings").mkdir(parents=True)
    (tmp / "media" / "recordings" / "secret.ogg").write_text("private call audio")
    http_port, https_port = free_port(), free_port()
    conf = proxy_config(tmp, certificate, [f"127.0.0.1:{app.port}" for app in apps], http_port, https_port)
    # As root, workers would run as `nobody` and could not read pytest's private temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    globals_ = f"daemon off; pid {tmp / 'nginx.pid'}; {user}"
    daemon = Daemon("nginx", nginx_command(conf, "-g", globals_), tmp)
    proxy = Proxy(f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", conf, daemon, apps, tmp / "media")
    daemon.wait_until(lambda: answers(proxy.http_url), 10, "nginx")
    yield proxy
    daemon.stop()


def answers(url: str) -> bool:
    try:
        return Session(url).request("GET", "/nginx-health").status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def people(proxy: Proxy, client_tls: ssl.SSLContext) -> dict[str, Session]:
    """alice and bob, logged in through nginx (CSRF over HTTPS needs Host and X-Forwarded-Proto right)."""
    sessions = {}
    for person in (ALICE, BOB):
        session = Session(proxy.https_url, client_tls)
        session.log_in(person.username, person.password)
        sessions[person.username] = session
    return sessions


def participants(app: AppServer) -> float:
    body = Session(app.url).request("GET", "/metrics").body.decode()
    match = re.search(r"^audioexchange_signaling_participants (\S+)$", body, re.MULTILINE)
    assert match, "participants gauge missing from /metrics"
    return float(match.group(1))


# --- The configuration itself ------------------------------------------------------------


def test_shipped_config_passes_nginx_t(proxy: Proxy):
    done = run(nginx_command(proxy.conf, "-t", "-g", f"pid {proxy.conf.parent.parent / 't.pid'};"))
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_plain_http_redirects_to_https_except_acme_challenges(proxy: Proxy):
    session = Session(proxy.http_url)

    reply = session.request("GET", "/rooms/standup/?from=mail")
    assert reply.status == 301
    assert reply.headers["Location"] == "https://127.0.0.1/rooms/standup/?from=mail"

    challenge = session.request("GET", "/.well-known/acme-challenge/token-1")
    assert (challenge.status, challenge.body) == (200, b"proof-1")


# --- Pages through nginx -----------------------------------------------------------------


def test_pages_carry_security_headers_once(proxy: Proxy, client_tls: ssl.SSLContext):
    reply = Session(proxy.https_url, client_tls).request("GET", "/accounts/login/")

    assert reply.status == 200
    assert reply.header_values("Strict-Transport-Security") == ["max-age=63072000"]
    assert reply.header_values("X-Content-Type-Options") == ["nosniff"]
    assert reply.header_values("X-Frame-Options") == ["DENY"]
    assert reply.header_values("Referrer-Policy") == ["same-origin"]
    assert "microphone=(self)" in reply.headers["Permissions-Policy"]
    assert "nginx/" not in reply.headers.get("Server", ""), "server_tokens off"


def test_static_files_come_through_with_long_caching(proxy: Proxy, client_tls: ssl.SSLContext):
    manifest = json.loads((proxy.apps[0].static_root / "staticfiles.json").read_text())
    hashed = next(path for name, path in manifest["paths"].items() if name.endswith(".css"))

    reply = Session(proxy.https_url, client_tls).request("GET", f"/static/{hashed}")

    assert reply.status == 200
    assert "immutable" in reply.headers["Cache-Control"]
    assert reply.header_values("X-Frame-Options") == ["DENY"]


def test_metrics_and_media_are_not_public(proxy: Proxy, client_tls: ssl.SSLContext):
    session = Session(proxy.https_url, client_tls)
    assert session.request("GET", "/metrics").status == 404
    assert (proxy.media / "recordings" / "secret.ogg").exists()
    assert session.request("GET", "/protected-media/recordings/secret.ogg").status == 404
    assert session.request("GET", "/media/recordings/secret.ogg").status == 404


def test_login_posts_are_rate_limited_per_address(proxy: Proxy, client_tls: ssl.SSLContext):
    """mallory hammers the login form from 127.0.0.2; nobody else is slowed down."""
    mallory = Session(proxy.https_url, client_tls, source_ip="127.0.0.2")
    guesses = [
        mallory.request("POST", "/accounts/login/", {"username": "alice", "password": f"guess-{n}"}).status
        for n in range(10)
    ]

    assert 429 not in guesses[:6], guesses  # one, plus a burst of five
    assert guesses[6:] == [429] * 4, guesses
    assert mallory.request("GET", "/accounts/login/").status == 200, "showing the form is not limited"
    assert Session(proxy.https_url, client_tls).request("POST", "/accounts/signup/", {}).status != 429


def test_admin_login_posts_are_rate_limited_like_the_accounts_login(proxy: Proxy, client_tls: ssl.SSLContext):
    mallory = Session(proxy.https_url, client_tls, source_ip="127.0.0.5")
    guesses = [
        mallory.request("POST", "/admin/login/", {"username": "alice", "password": f"guess-{n}"}).status
        for n in range(8)
    ]

    assert 429 not in guesses[:6], guesses
    assert guesses[6:] == [429] * 2, guesses


# --- WebSockets --------------------------------------------------------------------------


def enter(session: Session, slug: str, **kwargs: str) -> tuple[WebSocket, dict]:
    socket = session.websocket(f"/ws/rooms/{slug}/", **kwargs)
    welcome = socket.receive_json()
    assert welcome["type"] == "welcome", welcome
    return socket, welcome


def test_a_room_stays_on_one_process_and_rooms_spread_over_both(proxy: Proxy, people: dict[str, Session]):
    alice, bob = people["alice"], people["bob"]
    placements = []
    sockets: list[WebSocket] = []
    try:
        for slug in ROOMS:
            before = [participants(app) for app in proxy.apps]
            alice_ws, _ = enter(alice, slug)
            bob_ws, welcome = enter(bob, slug)
            sockets += [alice_ws, bob_ws]

            assert [peer["name"] for peer in welcome["peers"]] == ["Alice A."]
            assert alice_ws.receive_json()["type"] == "peer-joined"
            bob_ws.send_json({"type": "offer", "to": welcome["peers"][0]["peer_id"], "sdp": "v=0\r\n"})
            assert alice_ws.receive_json()["type"] == "offer"
            placements.append(tuple(participants(app) - was for app, was in zip(proxy.apps, before, strict=True)))
    finally:
        for socket in sockets:
            socket.close()

    assert set(placements) <= {(2, 0), (0, 2)}, f"a room was split across processes: {placements}"
    assert set(placements) == {(2, 0), (0, 2)}, f"all rooms went to one process: {placements}"


def test_people_on_two_processes_see_and_signal_each_other(proxy: Proxy, people: dict[str, Session]):
    """Without nginx's affinity (a process restarted, a room rebalanced) a room spans two
    processes: presence and relaying must go through Redis and PostgreSQL, not memory."""
    first, second = proxy.apps
    alice_ws, _ = enter(people["alice"], SPLIT_ROOM, base_url=first.url)
    try:
        bob_ws, welcome = enter(people["bob"], SPLIT_ROOM, base_url=second.url)
        try:
            assert [peer["name"] for peer in welcome["peers"]] == ["Alice A."]
            assert alice_ws.receive_json()["type"] == "peer-joined"
            bob_ws.send_json({"type": "offer", "to": welcome["peers"][0]["peer_id"], "sdp": "v=0\r\n"})
            assert alice_ws.receive_json()["type"] == "offer"
        finally:
            bob_ws.close()
    finally:
        alice_ws.close()


def test_a_foreign_origin_cannot_open_a_socket_through_nginx(proxy: Proxy, people: dict[str, Session]):
    with pytest.raises(HandshakeRefused) as refused:
        people["alice"].websocket(f"/ws/rooms/{ROOMS[0]}/", origin="https://evil.example")
    assert refused.value.status == 403


def test_when_a_process_stops_its_rooms_move_to_the_other(proxy: Proxy, people: dict[str, Session]):
    """A restart (upgrade, crash): sockets hear 1001 through nginx and rejoin on a live process."""
    first, second = proxy.apps
    alice, bob = people["alice"], people["bob"]
    held: list[WebSocket] = []
    try:
        for slug in ROOMS:  # find a room nginx places on the first process
            before = participants(first)
            socket, _ = enter(alice, slug)
            held.append(socket)
            if participants(first) > before:
                break
        else:
            pytest.fail("no room landed on the first process")

        first.stop()
        heard = []
        with pytest.raises(Closed) as closed:
            while True:
                heard.append(socket.receive_json())
        assert [message.get("code") for message in heard] == ["going_away"]
        assert closed.value.code == 1001, "going away: browsers reconnect at once"

        before = participants(second)
        alice_ws, _ = enter(alice, slug)
        bob_ws, welcome = enter(bob, slug)
        held += [alice_ws, bob_ws]
        assert [peer["name"] for peer in welcome["peers"]] == ["Alice A."]
        assert participants(second) == before + 2
    finally:
        for socket in held:
            socket.close()
        if not first.running:
            first.start()


# --- Abuse limits (issue 12) ---------------------------------------------------------------


def csrf_post(session: Session, path: str, form: dict[str, str], headers: dict[str, str] | None = None) -> int:
    page = session.request("GET", path, extra_headers=headers)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    if match is None:
        return page.status
    return session.request("POST", path, {**form, "csrfmiddlewaretoken": match.group(1).decode()}, headers).status


def test_a_forged_forwarded_for_does_not_reset_the_password_lockout(proxy: Proxy, client_tls: ssl.SSLContext):
    """mallory claims a new address in X-Forwarded-For with each guess: nginx overwrites it, so
    the app counts every guess against her real address and the eleventh is refused."""
    mallory = Session(proxy.https_url, client_tls, source_ip="127.0.0.3")
    mallory.log_in(MALLORY.username, MALLORY.password)

    statuses = [
        csrf_post(mallory, f"/rooms/{VAULT}/", {"password": f"guess-{n}"}, {"X-Forwarded-For": f"198.51.100.{n}"})
        for n in range(10)
    ]
    right = csrf_post(mallory, f"/rooms/{VAULT}/", {"password": VAULT_PASSWORD}, {"X-Forwarded-For": "198.51.100.99"})

    assert statuses == [403] * 10
    assert right == 429


def nginx_log(proxy: Proxy) -> str:
    return proxy.daemon.log_path.read_text(errors="replace")


def test_the_access_log_masks_invite_and_resume_tokens(proxy: Proxy, people: dict[str, Session]):
    invite_token, resume_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    alice = people["alice"]
    alice.request("GET", f"/i/{invite_token}/?from=mail")
    socket = alice.websocket(f"/ws/rooms/{ROOMS[0]}/?resume={resume_token}&v=2")
    socket.close()

    def logged() -> bool:
        return f"/ws/rooms/{ROOMS[0]}/?resume=[masked]&v=2" in nginx_log(proxy)

    proxy.daemon.wait_until(logged, 5, "the socket's line in nginx's access log")
    log = nginx_log(proxy)
    assert invite_token not in log and resume_token not in log
    assert '"GET /i/[masked]/?from=mail HTTP/1.1"' in log


def handshake_status(session: Session, path: str) -> int:
    try:
        session.websocket(path).close()
    except HandshakeRefused as refused:
        return refused.status
    return 101


def test_a_handshake_flood_is_cut_off_by_nginx_and_others_still_join(proxy: Proxy, people: dict[str, Session]):
    """mallory's script opens sockets as fast as it can from 127.0.0.4; alice, from her own
    address, still gets her `welcome`."""
    flooder = Session(proxy.https_url, people["alice"].tls, source_ip="127.0.0.4")
    statuses = [handshake_status(flooder, f"/ws/rooms/{ROOMS[1]}/") for _ in range(90)]

    refused_by_nginx = statuses.count(429)
    assert refused_by_nginx >= 20, statuses
    assert statuses.index(429) >= 50, "the burst of 50 passes"
    socket, welcome = enter(people["alice"], ROOMS[1])
    socket.close()
    assert welcome["type"] == "welcome"
