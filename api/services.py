"""The REST API's rules: keys, what a key may do, and the actions it asks for.

Rooms are created and changed through the room pages' own forms (`rooms.forms`) and
services, invites through `invites.services`, moderation and recording through the same
signaling services the call page's moderator and recording controls use.
"""

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from api import downloads, webhooks
from api.errors import ApiError, no_such_room
from api.models import ApiKey, WebhookEndpoint
from invites import services as invite_services
from invites import tokens
from invites.forms import InviteCreateForm
from moderation import services as moderation_services
from moderation.services import Actor, Delegate
from rooms import services as room_services
from rooms.forms import RoomCreateForm, RoomEditForm
from rooms.models import Room
from signaling import moderation as live_moderation
from signaling import protocol
from signaling import recording as live_recording
from signaling.protocol import ProtocolError

KEY_PREFIX = "ax_"
# What a refusal from the live services means over HTTP.
_STATUS_OF = {
    "unknown_peer": 404,
    "not_moderator": 403,
    "protected_owner": 403,
    "forbidden": 403,
    "recording_unavailable": 409,
}


def hash_key(raw: str) -> str:
    """sha256: keys are 32 random bytes, so a slow password hash would add nothing but latency."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(name: str, owner: User | None = None) -> tuple[ApiKey, str]:
    """A new key and its secret value; only the hash is stored, so show the value once."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    if ApiKey.objects.filter(name=name).exists():
        raise ValidationError({"name": f"There is already an API key named {name!r}; pick another name."})
    key = ApiKey.objects.create(name=name, owner=owner, prefix=raw[:10], key_hash=hash_key(raw))
    return key, raw


def key_for(raw: str) -> ApiKey | None:
    """The unrevoked key with this value, marked used now; None for any other value."""
    key = ApiKey.objects.select_related("owner").filter(key_hash=hash_key(raw), revoked=False).first()
    if key is not None:
        ApiKey.objects.filter(pk=key.pk).update(last_used=timezone.now())
    return key


def may_manage(key: ApiKey, room: Room) -> bool:
    """A site key (no owner) manages every room; a user's key, the rooms that user manages."""
    return key.owner is None or room_services.can_manage(key.owner, room)


def managed_room(key: ApiKey, slug: str) -> Room:
    room = Room.objects.select_related("owner").filter(slug=slug).first()
    if room is None or not may_manage(key, room):
        raise no_such_room(slug)
    return room


def actor_for(key: ApiKey, room: Room) -> Actor:
    """Whom the audit log and the room see acting: the key's owner, or the key as a delegate."""
    if key.owner is not None:
        return int(key.owner.pk)
    return Delegate(slug=room.slug, public_name=f"{key.name} (API)"[:64])


# Rooms: the room pages' forms validate, rooms.services writes -----------------------


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    """JSON values as a browser would post them: a false box is absent, lists are comma-joined."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else ", ".join(value) if isinstance(value, list) else value
    return data


def _invalid(form: forms.BaseForm) -> ApiError:
    errors = {field: [str(message) for message in messages] for field, messages in form.errors.items()}
    first = next(iter(errors.values()))[0] if errors else "Check the values sent."
    return ApiError(
        422, "invalid", first, errors={key.replace("__all__", "room"): value for key, value in errors.items()}
    )


def create_room(key: ApiKey, values: dict[str, Any]) -> Room:
    """A room owned by the key's owner (none for a site key), with the room form's checks."""
    defaults = {"max_participants": settings.ROOM_DEFAULT_MAX_PARTICIPANTS, "mode": "mesh"}
    form = RoomCreateForm(_form_data({**values, **{k: v for k, v in defaults.items() if values.get(k) is None}}))
    if not form.is_valid():
        raise _invalid(form)
    try:
        return room_services.create_room(owner=key.owner, **form.cleaned_data)
    except ValidationError as error:
        raise ApiError(422, "invalid", error.messages[0], errors=getattr(error, "message_dict", None)) from None


def current_settings(room: Room) -> dict[str, Any]:
    """The room's settings as `update_room` takes them."""
    return {
        "name": room.name,
        "description": room.description,
        "max_participants": room.max_participants,
        "audio_only": room.audio_only,
        "mode": room.mode,
        "locked": room.locked,
        "knock": room.knock,
        "moderators": list(room.moderators.order_by("username").values_list("username", flat=True)),
    }


def update_room(room: Room, changes: dict[str, Any]) -> Room:
    """Change the settings given (the others stay), as the room's settings page does."""
    values = {**current_settings(room), **changes}
    password, clear = values.pop("password", None), values.pop("clear_password", False)
    form = RoomEditForm(_form_data({**values, "new_password": password, "clear_password": clear}), room=room)
    if not form.is_valid():
        raise _invalid(form)
    try:
        with transaction.atomic():
            room_services.update_room(
                room,
                password=form.cleaned_data["new_password"] or None,
                clear_password=form.cleaned_data.get("clear_password", False),
                **form.room_fields(),
            )
            moderation_services.set_moderators(room, form.moderator_usernames())
    except ValidationError as error:
        room.refresh_from_db()
        raise ApiError(422, "invalid", error.messages[0], errors=getattr(error, "message_dict", None)) from None
    return room


# Invites and join tokens ---------------------------------------------------------------


def create_invite(key: ApiKey, room: Room, values: dict[str, Any]) -> tuple[str, datetime | None, int | None]:
    """An invite link's token, expiry and uses, with the invites page's checks."""
    form = InviteCreateForm(_form_data(values))
    if not form.is_valid():
        raise _invalid(form)
    expires_at = form.expires_at()
    max_uses = form.cleaned_data.get("max_uses")
    _, token = invite_services.create_invite(
        room, key.owner, expires_at=expires_at, max_uses=max_uses, label=form.cleaned_data.get("label", "")
    )
    return token, expires_at, max_uses


def mint_join_token(room: Room, name: str, moderator: bool, seconds: int, subject: str) -> str:
    """A join token (invites/tokens.py) for one person; `seconds` at most JOIN_TOKEN_MAX_SECONDS."""
    if not settings.JOIN_TOKEN_SECRET:
        raise ApiError(409, "join_tokens_off", "This server has no JOIN_TOKEN_SECRET: ask its operator to set one.")
    if not name.strip():
        raise ApiError(422, "invalid", "Give the person a name.", errors={"name": ["This field is required."]})
    if seconds > settings.JOIN_TOKEN_MAX_SECONDS:
        message = f"A join token lives at most {settings.JOIN_TOKEN_MAX_SECONDS} s on this server."
        raise ApiError(422, "invalid", message, errors={"seconds": [message]})
    return tokens.mint(room.slug, name.strip(), moderator=moderator, seconds=seconds, subject=subject)


# Live control: the services behind the call page's moderator and recording controls ----


def _live(call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    try:
        return async_to_sync(call)(*args)
    except ProtocolError as refusal:
        raise ApiError(_STATUS_OF.get(refusal.code, 409), refusal.code, refusal.message) from None


def remove_participant(key: ApiKey, room: Room, peer_id: str, bar: bool) -> None:
    """Disconnect one person (and bar them from returning, with `bar`), as a moderator does."""
    message = protocol.Moderate(action="remove_and_bar" if bar else "remove", peer_id=peer_id)
    _live(live_moderation.act_on_person, room.slug, actor_for(key, room), message)


def act_on_room(key: ApiKey, room: Room, action: str) -> None:
    """`lock`, `unlock` or `end` (everyone is disconnected), as a moderator does."""
    _live(live_moderation.act_on_room, room.slug, actor_for(key, room), action)


def change_recording(key: ApiKey, room: Room, action: str) -> int:
    """Start or stop recording the room, as its owner does from the call page."""
    recording_id: int = _live(live_recording.change_recording, room.slug, actor_for(key, room), action)
    return recording_id


# Recordings: short-lived signed download URLs (api/downloads.py) ------------------------


def check_download_token(recording_id: int, token: str) -> None:
    """Raise `ApiError` unless `token` is a valid, unexpired download token for this recording."""
    try:
        downloads.check_download_token(recording_id, token)
    except downloads.DownloadRefused as refusal:
        raise ApiError(refusal.status, refusal.code, refusal.message) from None


# Webhook endpoints (api/webhooks.py): site keys only -------------------------------------


def check_site_key(key: ApiKey) -> None:
    if key.owner is not None:
        raise ApiError(403, "site_key_only", "Only a site key (createapikey without --owner) manages webhooks.")


def create_webhook(key: ApiKey, url: str, events: list[str]) -> WebhookEndpoint:
    """A new endpoint with a fresh secret; every listed event must be one of `webhooks.EVENTS`."""
    check_site_key(key)
    unknown = sorted(set(events) - set(webhooks.EVENTS))
    if unknown:
        message = f"Unknown event type(s) {', '.join(unknown)}; use: {', '.join(webhooks.EVENTS)}."
        raise ApiError(422, "invalid", message, errors={"events": [message]})
    try:
        URLValidator(schemes=["http", "https"])(url)
        if len(url) > WebhookEndpoint._meta.get_field("url").max_length:  # type: ignore[operator]
            raise ValidationError("too long")
    except ValidationError:
        message = "Give a full http:// or https:// address, of at most 500 characters."
        raise ApiError(422, "invalid", message, errors={"url": [message]}) from None
    if WebhookEndpoint.objects.filter(url=url).exists():
        message = "There is already an endpoint with this address."
        raise ApiError(422, "invalid", message, errors={"url": [message]})
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    endpoint = WebhookEndpoint.objects.create(url=url, events=events, secret=secret)
    webhooks.forget_wanted()
    return endpoint
