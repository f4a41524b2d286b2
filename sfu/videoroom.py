"""The Janus VideoRoom requests a relay needs, on a `Handle` attached to `PLUGIN`.

Rooms are private and made by the server: a random id, and a random secret (to manage it)
and pin (to join it) that only the server knows, so nobody else with access to Janus's API can
list, join or destroy them. Participant ids and display names are set by the server too.
Publishing and subscribing use the multistream API of Janus 1.x: one publisher handle per
person, one subscriber handle receiving any number of feeds (Janus offers, we answer).
Reference: https://janus.conf.meetecho.com/docs/videoroom.html
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sfu.janus_client import Handle, JanusClientError, JsonDict

PLUGIN = "janus.plugin.videoroom"
# Janus and browsers read ids as JSON numbers: keep them within JavaScript's safe integers.
_MAX_ID = 2**53 - 1


@dataclass(frozen=True)
class RoomAccess:
    """A private VideoRoom and the passwords only the server knows."""

    room: int
    secret: str
    pin: str


@dataclass(frozen=True)
class Participant:
    """Someone in a room, as Janus lists them."""

    id: int
    display: str
    publisher: bool


class UnexpectedReply(JanusClientError):
    """Janus answered a request with something other than what the API documents."""


def random_id() -> int:
    """A random positive room or participant id."""
    return secrets.randbelow(_MAX_ID) + 1


def _expect(data: JsonDict, videoroom: str, request: str) -> JsonDict:
    if data.get("videoroom") != videoroom:
        raise UnexpectedReply(f"Janus answered {request!r} with {data!r}, not videoroom={videoroom!r}.")
    return data


def _expect_jsep(jsep: JsonDict | None, kind: str, request: str) -> JsonDict:
    if jsep is None or jsep.get("type") != kind:
        raise UnexpectedReply(f"Janus answered {request!r} without an SDP {kind}.")
    return jsep


async def create_room(
    handle: Handle, admin_key: str, *, publishers: int, description: str = "", **options: Any
) -> RoomAccess:
    """Create a private room with random id, secret and pin; `options` are VideoRoom room
    settings (e.g. `videocodec="vp8"`, `audiolevel_event=True`)."""
    access = RoomAccess(room=random_id(), secret=secrets.token_urlsafe(24), pin=secrets.token_urlsafe(24))
    body = {
        **options,
        "request": "create",
        "admin_key": admin_key,
        "room": access.room,
        "secret": access.secret,
        "pin": access.pin,
        "is_private": True,
        "permanent": False,
        "publishers": publishers,
        "description": description,
    }
    _expect((await handle.message(body)).data, "created", "create")
    return access


async def destroy_room(handle: Handle, access: RoomAccess) -> None:
    """Destroy the room; everyone in it is told and hung up."""
    body = {"request": "destroy", "room": access.room, "secret": access.secret}
    _expect((await handle.message(body)).data, "destroyed", "destroy")


async def list_rooms(handle: Handle, admin_key: str | None = None) -> list[JsonDict]:
    """The rooms Janus lists: the public ones, and the private ones too with the admin key."""
    body: JsonDict = {"request": "list"}
    if admin_key is not None:
        body["admin_key"] = admin_key
    return list(_expect((await handle.message(body)).data, "success", "list")["list"])


async def list_participants(handle: Handle, access: RoomAccess) -> list[Participant]:
    """Who is in the room now (publishing or not; subscribers are not listed)."""
    reply = await handle.message({"request": "listparticipants", "room": access.room})
    data = _expect(reply.data, "participants", "listparticipants")
    return [
        Participant(int(item["id"]), str(item.get("display", "")), bool(item.get("publisher")))
        for item in data["participants"]
    ]


async def join_as_publisher(handle: Handle, access: RoomAccess, participant_id: int, display: str) -> JsonDict:
    """Join with the id and name the server chose; returns Janus's `joined` event (its
    `publishers` lists the feeds already there)."""
    body = {
        "request": "join",
        "ptype": "publisher",
        "room": access.room,
        "pin": access.pin,
        "id": participant_id,
        "display": display,
    }
    return _expect((await handle.message(body)).data, "joined", "join")


async def publish(handle: Handle, offer: JsonDict, **options: Any) -> JsonDict:
    """Publish the joined handle's media: the browser's SDP offer in, Janus's answer out.
    `options` are VideoRoom publish settings (e.g. `bitrate`, `descriptions`)."""
    reply = await handle.message({**options, "request": "publish"}, offer)
    data = _expect(reply.data, "event", "publish")
    if data.get("configured") != "ok":
        raise UnexpectedReply(f"Janus did not confirm the publish: {data!r}.")
    return _expect_jsep(reply.jsep, "answer", "publish")


@dataclass(frozen=True)
class SubscriberOffer:
    """Janus's offer to a subscriber handle, and its `streams`: for each `mid`, the `feed_id`
    it carries (`active` false for an m-line left idle by a feed that went)."""

    jsep: JsonDict
    streams: list[JsonDict]

    def owners(self) -> dict[str, int]:
        """`mid` -> feed id, for the active streams."""
        return {str(s["mid"]): int(s["feed_id"]) for s in self.streams if s.get("active") and "feed_id" in s}


def subscriber_offer(data: JsonDict, jsep: JsonDict | None, request: str) -> SubscriberOffer:
    """A subscriber's offer from a reply or an `updated` event (`streams` as Janus lists them)."""
    return SubscriberOffer(_expect_jsep(jsep, "offer", request), list(data.get("streams") or []))


async def subscribe(handle: Handle, access: RoomAccess, feeds: list[int]) -> SubscriberOffer:
    """Subscribe one handle to `feeds` (all their streams); returns Janus's SDP offer."""
    body = {
        "request": "join",
        "ptype": "subscriber",
        "room": access.room,
        "pin": access.pin,
        "streams": [{"feed": feed} for feed in feeds],
    }
    reply = await handle.message(body)
    return subscriber_offer(_expect(reply.data, "attached", "join (subscriber)"), reply.jsep, "join (subscriber)")


async def update_subscription(handle: Handle, add: list[int], remove: list[int]) -> SubscriberOffer | None:
    """Add and remove feeds on a subscriber handle; Janus's new offer, if it renegotiates
    (not when nothing changed, e.g. only feeds that have already gone were removed)."""
    body: JsonDict = {"request": "update"}
    # Janus refuses an empty list ("Empty unsubscription list"), so each is sent only if needed.
    if add:
        body["subscribe"] = [{"feed": feed} for feed in add]
    if remove:
        body["unsubscribe"] = [{"feed": feed} for feed in remove]
    reply = await handle.message(body)
    data = _expect(reply.data, "updated", "update")
    return None if reply.jsep is None else subscriber_offer(data, reply.jsep, "update")


async def start(handle: Handle, answer: JsonDict) -> None:
    """Answer a subscriber's offer: media starts flowing once ICE and DTLS complete."""
    reply = await handle.message({"request": "start"}, answer)
    data = _expect(reply.data, "event", "start")
    if data.get("started") != "ok":
        raise UnexpectedReply(f"Janus did not confirm the start: {data!r}.")
