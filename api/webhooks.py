"""Webhooks: events written to an outbox table when they happen, sent in the background.

`emit` writes one `WebhookDelivery` row per endpoint that wants the event, in the caller's
database transaction when there is one (a recording that turns ready and its
`recording.ready` are saved together). `manage.py deliverwebhooks` (`run`) sends due rows,
signed per Standard Webhooks (`standardwebhooks`: webhook-id, webhook-timestamp,
webhook-signature), and retries failures on WEBHOOK_RETRY_SECONDS (by default 5 s up to
10 h apart, past 24 h in all). Rows are claimed with SELECT … FOR UPDATE SKIP LOCKED, so
several senders never send one row twice at once; a sender killed mid-send leaves its row
due, and it is sent again (receivers drop duplicates by webhook-id).

Why our own loop on the database and not django-q2 or django-rq: the outbox must be written
in the same transaction as the event it reports, which a Redis queue cannot do, and the
project's embedded mode has no Redis at all; what is left to do (poll, send, back off) is a
short loop. This module imports nothing from signaling or the media worker, which call it.
"""

import hashlib
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Min, Subquery
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api import downloads
from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

EVENTS = (
    "room.started",
    "room.ended",
    "participant.joined",
    "participant.left",
    "knock",
    "recording.started",
    "recording.ready",
    "recording.failed",
)


def endpoints(event: str) -> list[WebhookEndpoint]:
    """The active endpoints that want `event`; WEBHOOK_URL is one of them (made on first use)."""
    if settings.WEBHOOK_URL:
        WebhookEndpoint.objects.get_or_create(url=settings.WEBHOOK_URL, defaults={"secret": settings.WEBHOOK_SECRET})
    return [endpoint for endpoint in WebhookEndpoint.objects.filter(active=True) if endpoint.wants(event)]


def emit(event: str, data: dict[str, Any], once: str = "") -> int:
    """Queue `event` for every endpoint that wants it; returns how many deliveries were queued.

    `once`: a name only this occurrence has (e.g. the room and peer id of a departure). Its
    webhook-id is derived from it, and an event already queued under it is not queued again,
    so two processes (or one that retries after dying) reporting the same thing report it once.
    """
    assert event in EVENTS, event
    message_id = f"msg_{hashlib.sha256(f'{event} {once}'.encode()).hexdigest()[:24]}" if once else ""
    if message_id and WebhookDelivery.objects.filter(message_id=message_id).exists():
        return 0
    now = timezone.now()
    payload = {"type": event, "timestamp": now.isoformat(), "data": data}
    rows = [
        WebhookDelivery(
            endpoint=endpoint,
            message_id=message_id or f"msg_{secrets.token_hex(12)}",
            event=event,
            payload=payload,
            next_attempt=now,
        )
        for endpoint in endpoints(event)
    ]
    WebhookDelivery.objects.bulk_create(rows)
    return len(rows)


async def announce(*events: tuple[str, dict[str, Any]], once: str = "", strict: bool = False) -> None:
    """`emit` each (event, data) from async code (signaling), in one database hop; none at all
    while no endpoint is configured. `once`: see `emit`. A lost event is logged; with `strict`
    the error is raised instead, for a caller that tries again later."""
    if not await wanted():
        return
    try:
        await database_sync_to_async(_emit_all)(events, once)
    except Exception:
        if strict:
            raise
        log.exception("webhook events %s could not be queued", [event for event, _ in events])


def _emit_all(events: tuple[tuple[str, dict[str, Any]], ...], once: str) -> None:
    with transaction.atomic():
        for event, data in events:
            emit(event, data, once)


# Whether any endpoint is configured, re-read at most every few seconds: joins are bound by
# database hops, and most sites have no webhooks.
_WANTED_FOR_SECONDS = 5.0
_wanted_until = 0.0
_wanted = False


async def wanted() -> bool:
    """True when an endpoint may want events (WEBHOOK_URL, or an active one in the admin)."""
    global _wanted_until, _wanted
    if settings.WEBHOOK_URL:
        return True
    if time.monotonic() >= _wanted_until:
        _wanted = await database_sync_to_async(WebhookEndpoint.objects.filter(active=True).exists)()
        _wanted_until = time.monotonic() + _WANTED_FOR_SECONDS
    return _wanted


def forget_wanted() -> None:
    """Re-read the endpoints on the next event (an endpoint was just added or changed)."""
    global _wanted_until
    _wanted_until = 0.0


def recording_data(recording: Any) -> dict[str, Any]:
    """`recording.*` event data; a ready one carries a signed download URL (API_DOWNLOAD_URL_SECONDS)."""
    data: dict[str, Any] = {"room": recording.room.slug, "recording_id": recording.pk, "status": recording.status}
    if recording.status == "ready":
        data["download_url"] = settings.PUBLIC_URL.rstrip("/") + downloads.download_path(recording.pk)
        data["duration"], data["size"] = recording.duration, recording.size
    if recording.error:
        data["error"] = recording.error
    return data


# Sending ------------------------------------------------------------------------------


def sign(endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    signature = Webhook(endpoint.secret).sign(delivery.message_id, at, body)
    return {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "AudioExchange-Webhooks/1",
    }


def _claim_one() -> WebhookDelivery | None:
    """The oldest due delivery, pushed back so no other sender takes it while this one sends."""
    pending = WebhookDelivery.objects.filter(next_attempt__isnull=False, endpoint__active=True)
    # Each endpoint gets its events in order: only its oldest pending delivery may be sent, so
    # a failing one holds the later ones back until it is delivered or given up.
    heads = pending.values("endpoint").annotate(first=Min("pk")).values("first")
    with transaction.atomic():
        due = (
            pending.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk__in=Subquery(heads), next_attempt__lte=timezone.now())
            .order_by("pk")
            .first()
        )
        if due is None:
            return None
        due.attempts += 1
        # If this sender dies mid-send, the row is due again after the timeout.
        due.next_attempt = timezone.now() + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2)
        due.save(update_fields=["attempts", "next_attempt"])
    return due


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = sign(delivery.endpoint, delivery, body, timezone.now())
    request = urllib.request.Request(delivery.endpoint.url, data=body.encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return None, str(getattr(error, "reason", error))[:300]


def send_one() -> bool:
    """Send the oldest due delivery once; False when none is due."""
    delivery = _claim_one()
    if delivery is None:
        return False
    started = time.monotonic()
    status, error = _post(delivery)
    WebhookAttempt.objects.create(delivery=delivery, status=status, error=error, seconds=time.monotonic() - started)
    schedule = settings.WEBHOOK_RETRY_SECONDS
    if status is not None and 200 <= status < 300:
        delivery.delivered, delivery.next_attempt = timezone.now(), None
    elif delivery.attempts > len(schedule):
        delivery.failed, delivery.next_attempt = True, None
        log.warning("webhook %s to %s failed for good: %s", delivery.message_id, delivery.endpoint.url, error)
    else:
        delivery.next_attempt = timezone.now() + timedelta(seconds=schedule[delivery.attempts - 1])
    delivery.save(update_fields=["delivered", "failed", "next_attempt"])
    return True


def send_again(delivery: WebhookDelivery) -> None:
    """The admin's "send again": due now, with a fresh set of retries."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt=timezone.now(), attempts=0, failed=False, delivered=None
    )


def run(stop_after: float | None = None) -> None:
    """Send due deliveries until stopped (`manage.py deliverwebhooks`); idle, poll every WEBHOOK_POLL_SECONDS."""
    deadline = None if stop_after is None else time.monotonic() + stop_after
    while deadline is None or time.monotonic() < deadline:
        if not send_one():
            time.sleep(settings.WEBHOOK_POLL_SECONDS)
