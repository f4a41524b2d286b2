"""The REST API, `/api/v1/` (django-ninja): parse, check the key's rights, call a service.

The OpenAPI schema is at `/api/v1/openapi.json`; docs/api.md walks through it.
"""

import logging
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import HttpBearer
from ninja.throttling import AuthRateThrottle

from api import schemas, selectors, services
from api.errors import ApiError
from api.models import ApiKey, WebhookEndpoint
from api.schemas import IdPath, PeerPath, SlugPath
from mediaworker import selectors as recording_selectors
from mediaworker.models import Recording
from rooms import services as room_services
from signaling import selectors as signaling_selectors

log = logging.getLogger(__name__)
ERRORS: dict[int, Any] = {code: schemas.Error for code in (401, 403, 404, 409, 410, 422, 429)}


class BearerKey(HttpBearer):
    """`Authorization: Bearer <key>`, a key from `manage.py createapikey`."""

    def __call__(self, request: HttpRequest) -> ApiKey:
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, "no_key", "Send an API key: 'Authorization: Bearer <key>' (manage.py createapikey).")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise ApiError(401, "bad_authorization", "Use 'Authorization: Bearer <key>', with the key after 'Bearer '.")
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        key = services.key_for(token)
        if key is None:
            raise ApiError(401, "bad_key", "This API key is not valid, or was revoked: check it, or make a new one.")
        return key


class KeyRateThrottle(AuthRateThrottle):
    """API_RATE_PER_MINUTE requests per key (the Django cache: Redis with REDIS_URL), read per request."""

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = f"{settings.API_RATE_PER_MINUTE}/m"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


api = NinjaAPI(
    title="Audio Exchange API",
    version="1",
    description="Rooms, invites, join tokens, live participants, moderation and recordings. See docs/api.md.",
    auth=BearerKey(),
    throttle=[KeyRateThrottle(f"{settings.API_RATE_PER_MINUTE}/m")],
    urls_namespace="api",
    docs_url=None,  # the interactive page loads scripts from a CDN, which the site's CSP refuses
)


def _error(request: HttpRequest, error: ApiError) -> HttpResponse:
    response = api.create_response(request, error.body(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, ApiError(401, "no_key", "Send an API key: 'Authorization: Bearer <key>'."))


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    minute = settings.API_RATE_PER_MINUTE
    return _error(request, ApiError(429, "rate_limited", f"This key sent over {minute} requests a minute; slow down."))


@api.exception_handler(NinjaValidationError)
def on_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for item in exc.errors:
        field = ".".join(str(part) for part in item.get("loc", ())[1:]) or "request"
        errors.setdefault(field, []).append(str(item.get("msg", "invalid")))
    field, messages = next(iter(errors.items()), ("request", ["invalid"]))
    return _error(request, ApiError(422, "invalid", f"{field}: {messages[0]}", errors=errors))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, ApiError(exc.status_code, "bad_request", str(exc)))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api_not_found(request)


@api.exception_handler(Exception)
def on_crash(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API request %s %s failed", request.method, request.path)
    return _error(request, ApiError(500, "server_error", "The server failed; try again, and tell its operator."))


class Pages(LimitOffsetPagination):
    """`limit` (at most API_PAGE_SIZE) and `offset`; a page is `{"items": [...], "count": N}`."""

    class Input(LimitOffsetPagination.Input):
        offset: int = Field(0, ge=0, le=2**31 - 1)  # beyond a database integer is no page at all


def _key(request: HttpRequest) -> ApiKey:
    key = request.auth  # type: ignore[attr-defined]
    assert isinstance(key, ApiKey)
    return key


def _room(request: HttpRequest, slug: str) -> Any:
    return services.managed_room(_key(request), slug)


# Rooms ---------------------------------------------------------------------------


@api.get("/rooms", response={200: list[schemas.RoomOut], **ERRORS}, tags=["rooms"])
@paginate(Pages)
def list_rooms(request: HttpRequest) -> Any:
    """The rooms this key manages, by slug."""
    return selectors.rooms_for(_key(request))


@api.post("/rooms", response={201: schemas.RoomOut, **ERRORS}, tags=["rooms"])
def create_room(request: HttpRequest, body: schemas.RoomIn) -> Any:
    """A new room, owned by the key's owner, with the lobby form's checks."""
    return Status(201, services.create_room(_key(request), body.dict()))


@api.get("/rooms/{slug}", response={200: schemas.RoomOut, **ERRORS}, tags=["rooms"])
def get_room(request: HttpRequest, slug: SlugPath) -> Any:
    return _room(request, slug)


@api.patch("/rooms/{slug}", response={200: schemas.RoomOut, **ERRORS}, tags=["rooms"])
def update_room(request: HttpRequest, slug: SlugPath, body: schemas.RoomPatch) -> Any:
    """Change the settings sent, with the settings page's checks; the others stay."""
    return services.update_room(_room(request, slug), body.dict(exclude_none=True))


@api.delete("/rooms/{slug}", response={204: None, **ERRORS}, tags=["rooms"])
def delete_room(request: HttpRequest, slug: SlugPath) -> Any:
    """Delete the room; whoever is in it is disconnected."""
    room_services.delete_room(_room(request, slug))
    return Status(204, None)


# Invites and join tokens -----------------------------------------------------------


@api.post("/rooms/{slug}/invites", response={201: schemas.InviteOut, **ERRORS}, tags=["invites"])
def create_invite(request: HttpRequest, slug: SlugPath, body: schemas.InviteIn) -> Any:
    """An invite link (`/i/<token>/`): guests type a name and join."""
    token, expires_at, max_uses = services.create_invite(_key(request), _room(request, slug), body.dict())
    url = request.build_absolute_uri(f"/i/{token}/")
    return Status(201, {"url": url, "expires_at": expires_at, "max_uses": max_uses})


@api.post("/rooms/{slug}/join-tokens", response={201: schemas.JoinTokenOut, **ERRORS}, tags=["invites"])
def create_join_token(request: HttpRequest, slug: SlugPath, body: schemas.JoinTokenIn) -> Any:
    """A signed join token for one person, with a role (docs/api.md, "Join tokens")."""
    room = _room(request, slug)
    token = services.mint_join_token(room, body.name, body.moderator, body.seconds, body.sub)
    url = request.build_absolute_uri(f"{room.get_absolute_url()}?jwt={token}")
    expires_at = timezone.now() + timedelta(seconds=body.seconds)
    return Status(201, {"token": token, "url": url, "expires_at": expires_at})


# Live state and control ------------------------------------------------------------


@api.get("/rooms/{slug}/participants", response={200: list[schemas.ParticipantOut], **ERRORS}, tags=["live"])
@paginate(Pages)
def list_participants(request: HttpRequest, slug: SlugPath) -> Any:
    """Who is in the room right now (from signaling presence), by name."""
    return signaling_selectors.participants(_room(request, slug).slug)


@api.delete("/rooms/{slug}/participants/{peer_id}", response={204: None, **ERRORS}, tags=["live"])
def remove_participant(request: HttpRequest, slug: SlugPath, peer_id: PeerPath, bar: bool = False) -> Any:
    """Disconnect one person; `bar=true` also bars them from coming back."""
    services.remove_participant(_key(request), _room(request, slug), peer_id, bar)
    return Status(204, None)


@api.post("/rooms/{slug}/lock", response={200: schemas.RoomOut, **ERRORS}, tags=["live"])
def lock_room(request: HttpRequest, slug: SlugPath) -> Any:
    """Nobody new may join (everyone in it is told)."""
    return _room_action(request, slug, "lock")


@api.post("/rooms/{slug}/unlock", response={200: schemas.RoomOut, **ERRORS}, tags=["live"])
def unlock_room(request: HttpRequest, slug: SlugPath) -> Any:
    return _room_action(request, slug, "unlock")


@api.post("/rooms/{slug}/end", response={200: schemas.RoomOut, **ERRORS}, tags=["live"])
def end_meeting(request: HttpRequest, slug: SlugPath) -> Any:
    """End the meeting: everyone in it, and everyone knocking, is disconnected."""
    return _room_action(request, slug, "end")


def _room_action(request: HttpRequest, slug: str, action: str) -> Any:
    room = _room(request, slug)
    services.act_on_room(_key(request), room, action)
    room.refresh_from_db()
    return room


@api.post("/rooms/{slug}/recording/start", response={201: schemas.RecordingOut, **ERRORS}, tags=["recordings"])
def start_recording(request: HttpRequest, slug: SlugPath) -> Any:
    """Start recording, as the owner does from the call page (409 `recording_unavailable` when it cannot)."""
    return Status(201, _recording_change(request, slug, "start"))


@api.post("/rooms/{slug}/recording/stop", response={200: schemas.RecordingOut, **ERRORS}, tags=["recordings"])
def stop_recording(request: HttpRequest, slug: SlugPath) -> Any:
    return _recording_change(request, slug, "stop")


def _recording_change(request: HttpRequest, slug: str, action: str) -> Any:
    recording_id = services.change_recording(_key(request), _room(request, slug), action)
    return selectors.recordings_for(_key(request)).get(pk=recording_id)


# Recordings ------------------------------------------------------------------------


@api.get("/rooms/{slug}/recordings", response={200: list[schemas.RecordingOut], **ERRORS}, tags=["recordings"])
@paginate(Pages)
def list_recordings(request: HttpRequest, slug: SlugPath) -> Any:
    """The room's recordings, newest first; ready ones carry a short-lived download URL."""
    return selectors.recordings_for(_key(request)).filter(room=_room(request, slug))


@api.get("/recordings/{recording_id}", response={200: schemas.RecordingOut, **ERRORS}, tags=["recordings"])
def get_recording(request: HttpRequest, recording_id: IdPath) -> Any:
    recording = selectors.recordings_for(_key(request)).filter(pk=recording_id).first()
    if recording is None:
        raise ApiError(404, "recording_not_found", f"No recording {recording_id} of a room this key manages.")
    return recording


@api.get(
    "/recordings/{recording_id}/file",
    auth=None,
    response={200: None, **ERRORS},
    tags=["recordings"],
    url_name="recording_file",
)
def recording_file(request: HttpRequest, recording_id: IdPath, token: str = "") -> Any:
    """The composite file, through the signed URL in `download_url` (no key needed; it expires)."""
    services.check_download_token(recording_id, token)
    recording = Recording.objects.select_related("room").filter(pk=recording_id).first()
    path = recording_selectors.composite_path(recording) if recording is not None else None
    if recording is None or path is None:
        raise ApiError(404, "recording_not_found", "This recording has no file (deleted, or not ready).")
    filename = f"{recording.room.slug}-{recording.started:%Y%m%d-%H%M%S}{path.suffix}"
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)


# Webhook endpoints (docs/webhooks.md) ---------------------------------------------


@api.get("/webhooks", response={200: list[schemas.WebhookOut], **ERRORS}, tags=["webhooks"])
@paginate(Pages)
def list_webhooks(request: HttpRequest) -> Any:
    """The endpoints events are sent to (site keys only)."""
    services.check_site_key(_key(request))
    return WebhookEndpoint.objects.order_by("pk")


@api.post("/webhooks", response={201: schemas.WebhookCreated, **ERRORS}, tags=["webhooks"])
def create_webhook(request: HttpRequest, body: schemas.WebhookIn) -> Any:
    """A new endpoint; its signing secret is in the answer, and only there."""
    return Status(201, services.create_webhook(_key(request), body.url, body.events))


@api.delete("/webhooks/{webhook_id}", response={204: None, **ERRORS}, tags=["webhooks"])
def delete_webhook(request: HttpRequest, webhook_id: IdPath) -> Any:
    """Stop sending to this endpoint (its queued events are dropped)."""
    services.check_site_key(_key(request))
    if not WebhookEndpoint.objects.filter(pk=webhook_id).delete()[0]:
        raise ApiError(404, "webhook_not_found", f"No webhook endpoint {webhook_id}.")
    return Status(204, None)


def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any other address under /api/: a JSON 404 too (mounted after the API's own URLs)."""
    return _error(request, ApiError(404, "not_found", "Nothing here: check the address against /api/v1/openapi.json."))


def _json_not_allowed(view: Any) -> Any:
    """django-ninja answers a wrong method with a plain-text 405: answer in JSON like every error."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = response.get("Allow", "")
        refusal = _error(
            request, ApiError(405, "method_not_allowed", f"This address takes {allowed}, not {request.method}.")
        )
        refusal["Allow"] = allowed
        return refusal

    return wrapper


def urls() -> Any:
    """The API's URL patterns, for audioexchange/urls.py."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = _json_not_allowed(pattern.callback)
    return patterns, app_name, namespace
