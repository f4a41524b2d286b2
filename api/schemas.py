"""The API's JSON shapes (pydantic, via django-ninja); they type the OpenAPI schema.

Values are checked by the room pages' own forms (api.services), so these stay loose where
the forms are strict, and one rule lives in one place.
"""

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Path, Schema

from api import downloads
from mediaworker.models import Recording
from rooms import selectors as room_selectors
from rooms.models import Room

SLUG_PATTERN = r"^[-a-zA-Z0-9_]{1,64}$"
PEER_PATTERN = r"^[-a-zA-Z0-9_]{1,64}$"
SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="The room's slug, as in /rooms/<slug>/.")]
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="An id (of a recording, a webhook endpoint).")]
PeerPath = Annotated[str, Path(pattern=PEER_PATTERN, description="A participant's peer id (from /participants).")]


class Error(Schema):
    code: str = Field(description="What went wrong, for programs: e.g. room_not_found, invalid, rate_limited.")
    message: str = Field(description="What went wrong, for people, and what to do about it.")
    errors: dict[str, list[str]] | None = Field(None, description="For `invalid`: the messages of each field.")


class RoomIn(Schema):
    """A new room: the lobby's room form."""

    slug: str = Field(description="The room's address, /rooms/<slug>/: letters, digits, - and _.")
    name: str = ""
    description: str = ""
    password: str = Field("", description="Optional: people must enter it before joining (join tokens skip it).")
    max_participants: int | None = Field(None, description="Empty: ROOM_DEFAULT_MAX_PARTICIPANTS.")
    audio_only: bool = False
    mode: str = Field("mesh", description="mesh, relay or auto.")


class RoomPatch(Schema):
    """Changes to a room: the room's settings page. Fields left out keep their value."""

    name: str | None = None
    description: str | None = None
    max_participants: int | None = None
    audio_only: bool | None = None
    mode: str | None = None
    locked: bool | None = None
    knock: bool | None = Field(None, description="Ask to join: newcomers wait until a moderator lets them in.")
    moderators: list[str] | None = Field(None, description="Usernames of the room's moderators (replaces the list).")
    password: str | None = Field(None, description="A new password.")
    clear_password: bool | None = Field(None, description="Remove the password.")


class RoomOut(Schema):
    slug: str
    name: str
    description: str
    url: str
    owner: str | None = Field(description="The owner's username.")
    max_participants: int
    audio_only: bool
    mode: str
    locked: bool
    knock: bool
    has_password: bool
    moderators: list[str]
    participants: int = Field(description="People in the room right now.")

    @staticmethod
    def resolve_url(room: Room, context: dict[str, Any]) -> str:
        return str(context["request"].build_absolute_uri(room.get_absolute_url()))

    @staticmethod
    def resolve_owner(room: Room) -> str | None:
        return room.owner.username if room.owner else None

    @staticmethod
    def resolve_moderators(room: Room) -> list[str]:
        return sorted(user.username for user in room.moderators.all())

    @staticmethod
    def resolve_participants(room: Room) -> int:
        return room_selectors.participant_count(room)


class InviteIn(Schema):
    label: str = ""
    expires_in_hours: int | None = Field(None, description="Empty: never expires.")
    max_uses: int | None = Field(None, description="Empty: any number of uses.")


class InviteOut(Schema):
    url: str = Field(description="The link to send; guests open it, type a name and join. Shown only now.")
    expires_at: datetime | None
    max_uses: int | None


class JoinTokenIn(Schema):
    name: str = Field(description="The name others see.")
    moderator: bool = False
    seconds: int = Field(3600, ge=60, description="Lifetime, at most JOIN_TOKEN_MAX_SECONDS.")
    sub: str = Field("", max_length=200, description="Your own id for the person (bans hold per sub).")


class JoinTokenOut(Schema):
    token: str
    url: str = Field(description="/rooms/<slug>/?jwt=<token>: send the person's browser there.")
    expires_at: datetime


class ParticipantOut(Schema):
    peer_id: str
    name: str
    guest: bool
    media: dict[str, Any] = Field(description="Their last media state: audio, video, hand, screen (may be empty).")


class RecordingOut(Schema):
    id: int
    room: str
    status: str = Field(description="recording, processing, ready or failed.")
    started: datetime
    ended: datetime | None
    duration: float | None
    size: int
    error: str
    download_url: str | None = Field(description="When ready: a signed URL valid API_DOWNLOAD_URL_SECONDS.")

    @staticmethod
    def resolve_room(recording: Recording) -> str:
        return recording.room.slug

    @staticmethod
    def resolve_download_url(recording: Recording, context: dict[str, Any]) -> str | None:
        if recording.status != Recording.Status.READY:
            return None
        return str(context["request"].build_absolute_uri(downloads.download_path(recording.pk)))


class WebhookIn(Schema):
    url: str = Field(description="Where to POST events (http or https).")
    events: list[str] = Field([], description="Event types to send (docs/webhooks.md); empty: every event.")


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    active: bool
    created: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_…: verify signatures with it. Shown only now.")
