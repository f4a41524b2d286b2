"""Webhooks against a real HTTP receiver on 127.0.0.1: a call's events arrive in order, each
signed per Standard Webhooks; a receiver that is down for a while gets every event once it is back."""

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from standardwebhooks.webhooks import Webhook

from accounts.models import User
from api import webhooks
from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from mediaworker import services as recording_services
from moderation.tests.conftest import make_room
from rooms.models import Room
from signaling.tests.conftest import Connect, enter
from tests.live_server import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """An app's webhook endpoint: a real HTTP server that keeps what it was sent."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[dict[str, str], str]] = []
        self.server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.received.append(({key.lower(): value for key, value in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self) -> list[dict[str, Any]]:
        """Every request, its signature checked as a receiver would (raises if one is wrong)."""
        return [Webhook(SECRET).verify(body, headers) for headers, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port())
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def endpoint(receiver: Receiver, db: None, settings: Any) -> WebhookEndpoint:
    settings.WEBHOOK_RETRY_SECONDS = [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    webhooks.forget_wanted()
    return WebhookEndpoint.objects.create(url=receiver.url, secret=SECRET)


def send_until(done: Callable[[], bool], timeout: float = 20) -> None:
    """What `manage.py deliverwebhooks` does, until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the events were not all delivered in time"
        if not webhooks.send_one():
            time.sleep(0.05)


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(event["type"], event["data"].get("name", event["data"]["room"])) for event in events]


@pytest.mark.django_db(transaction=True)
async def test_a_calls_events_arrive_in_order_signed(
    connect: Connect, receiver: Receiver, endpoint: WebhookEndpoint, alice: User, bob: User, room: Room
):
    alice_ws = await enter(connect, alice)
    bob_ws = await enter(connect, bob)
    await alice_ws.receive()
    await bob_ws.ws.disconnect()
    assert (await alice_ws.receive())["type"] == "peer-left"
    await alice_ws.ws.disconnect()

    await database_sync_to_async(send_until)(lambda: len(receiver.received) == 6)
    assert summary(receiver.events()) == [
        ("room.started", "standup"),
        ("participant.joined", "Alice A."),
        ("participant.joined", "Bob B."),
        ("participant.left", "Bob B."),
        ("participant.left", "Alice A."),
        ("room.ended", "standup"),
    ]
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(set(ids)) == 6 and all(id_.startswith("msg_") for id_ in ids)
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(receiver.received[0][1], receiver.received[0][0])


@pytest.mark.django_db(transaction=True)
async def test_a_knock_is_an_event(
    connect: Connect, receiver: Receiver, endpoint: WebhookEndpoint, alice: User, bob: User
):
    await make_room("standup", alice, knock=True)
    bob_ws = await connect(bob)
    assert (await bob_ws.receive())["type"] == "waiting"

    await database_sync_to_async(send_until)(lambda: len(receiver.received) == 1)
    assert summary(receiver.events()) == [("knock", "Bob B.")]


@pytest.mark.django_db
def test_a_failed_recording_is_an_event(receiver: Receiver, endpoint: WebhookEndpoint, alice: User, room: Room):
    recording = recording_services.start_recording(room, alice, expected_streams=0)
    recording_services.fail_recording(recording, "Nothing was recorded.")

    send_until(lambda: len(receiver.received) == 1)
    [event] = receiver.events()
    assert event["type"] == "recording.failed"
    assert event["data"] == {
        "room": "standup",
        "recording_id": recording.pk,
        "status": "failed",
        "error": "Nothing was recorded.",
    }


@pytest.mark.django_db
def test_events_wait_while_the_receiver_is_down_and_all_arrive_once_it_is_back(
    receiver: Receiver, endpoint: WebhookEndpoint, room: Room
):
    receiver.stop()
    for name in ("Ann", "Ben", "Cy"):
        webhooks.emit("participant.joined", {"room": "standup", "name": name})

    send_until(lambda: WebhookAttempt.objects.count() >= 3)  # refused: nobody listens
    assert WebhookDelivery.objects.filter(delivered__isnull=False).count() == 0
    assert WebhookAttempt.objects.filter(status__isnull=True).count() >= 3
    receiver.start()

    send_until(lambda: not WebhookDelivery.objects.filter(delivered__isnull=True).exists())
    assert summary(receiver.events()) == [
        ("participant.joined", "Ann"),
        ("participant.joined", "Ben"),
        ("participant.joined", "Cy"),
    ], "each once, in order: Ben and Cy waited behind Ann"
    first = WebhookDelivery.objects.order_by("pk").first()
    assert first is not None and first.attempts >= 4 and not first.failed


@pytest.mark.django_db
def test_an_event_is_given_up_after_the_last_retry(
    receiver: Receiver, endpoint: WebhookEndpoint, room: Room, settings: Any
):
    settings.WEBHOOK_RETRY_SECONDS = [0.05, 0.05]
    receiver.stop()
    webhooks.emit("room.started", {"room": "standup"})

    send_until(lambda: WebhookDelivery.objects.filter(failed=True).exists())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.next_attempt, delivery.log.count()) == (3, None, 3)

    receiver.start()
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    log_page = admin.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/")
    html = log_page.content.decode()
    assert 'name="log-TOTAL_FORMS" value="3"' in html and "Connection refused" in html, "the three attempts"
    chosen = {"action": "send_again", "_selected_action": [delivery.pk]}
    answer = admin.post("/admin/api/webhookdelivery/", chosen, follow=True)  # the admin's "Send again"
    assert "1 event(s) queued to be sent again." in answer.content.decode()
    send_until(lambda: len(receiver.received) == 1)
    assert receiver.events()[0]["type"] == "room.started"
    assert WebhookDelivery.objects.get().delivered is not None


class StallingReceiver(Receiver):
    """Holds its first request unanswered until `release` (the sender dies meanwhile)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.first_arrived = threading.Event()
        self.release = threading.Event()

    def start(self) -> None:
        super().start()
        assert self.server is not None
        handler = self.server.RequestHandlerClass
        receiver = self
        original = handler.do_POST  # type: ignore[attr-defined]

        def do_post(request: Any) -> None:
            if not receiver.first_arrived.is_set():
                receiver.first_arrived.set()
                receiver.release.wait(30)
            original(request)

        handler.do_POST = do_post  # type: ignore[attr-defined]


# A sender process reads the test's PostgreSQL database (not the embedded pass's in-memory SQLite).
@pytest.mark.redis_only
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_mid_delivery_leaves_the_event_to_be_sent_again(settings: Any, room: Room):
    import os
    import signal
    import subprocess
    import sys

    from django.db import connection

    receiver = StallingReceiver(free_port())
    receiver.start()
    try:
        WebhookEndpoint.objects.create(url=receiver.url, secret=SECRET)
        webhooks.emit("room.started", {"room": "standup"})
        database = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "WEBHOOK_TIMEOUT_SECONDS": "1",
        }
        sender = subprocess.Popen([sys.executable, "manage.py", "deliverwebhooks"], env=env)
        try:
            assert receiver.first_arrived.wait(60), "the sender process sent nothing"
        finally:
            sender.send_signal(signal.SIGKILL)
            sender.wait(10)
        receiver.release.set()
        assert WebhookDelivery.objects.get().delivered is None, "the sender died before it could note the answer"

        settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
        send_until(lambda: WebhookDelivery.objects.filter(delivered__isnull=False).exists())
        ids = [headers["webhook-id"] for headers, _ in receiver.received]
        assert len(ids) >= 1 and len(set(ids)) == 1, "sent again under the same id: the receiver keeps it once"
        assert [event["type"] for event in receiver.events()][-1] == "room.started"
    finally:
        receiver.release.set()
        receiver.stop()


@pytest.mark.django_db
def test_a_ready_recordings_event_carries_a_working_download_url(alice: User, room: Room, settings: Any, tmp_path: Any):
    settings.MEDIA_ROOT = tmp_path
    settings.PUBLIC_URL = "https://call.example.org"
    recording = recording_services.start_recording(room, alice, expected_streams=0)
    (tmp_path / "recordings" / recording.directory).mkdir(parents=True)
    (tmp_path / "recordings" / recording.directory / "call.webm").write_bytes(b"webm")
    recording.status, recording.file = "ready", "call.webm"
    recording.save()

    data = webhooks.recording_data(recording)
    assert data["download_url"].startswith("https://call.example.org/api/v1/recordings/")
    download = Client().get(data["download_url"].removeprefix("https://call.example.org"))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"webm"  # type: ignore[attr-defined]
