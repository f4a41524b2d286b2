"""How much of a media worker one room, and the rooms of one owner, may take.

A worker carries at most MEDIAWORKER_MAX_STREAMS streams (uploads received, copies sent, tracks
recorded). One room takes at most MEDIAWORKER_ROOM_SHARE of them, and the rooms of one owner
together at most MEDIAWORKER_OWNER_SHARE, so that one account (signup is open) cannot take the
worker from everyone else. Past a limit the newcomer, the pair or the recording is refused with
the limit's own code; what already runs is not touched.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.conf import settings

Scope = Literal["worker", "room", "owner"]


@dataclass(frozen=True)
class Usage:
    """Streams a worker carries now: in all, for one room, and for its owner's rooms (None: no owner)."""

    worker: int
    room: int
    owner: int | None


@dataclass(frozen=True)
class Shortfall:
    """The limit that some more streams would cross, and that limit in streams."""

    scope: Scope
    limit: int


# What a session asks before taking more streams: None if it may take `streams` more.
Budget = Callable[[int], Shortfall | None]


def share_limit(share: float) -> int:
    """A share of MEDIAWORKER_MAX_STREAMS, in streams (at least one)."""
    return max(1, int(int(settings.MEDIAWORKER_MAX_STREAMS) * share))


def shortfall(usage: Usage, adding: int) -> Shortfall | None:
    """The first limit `adding` more streams would cross: the worker's, the room's, the owner's."""
    worker_limit = int(settings.MEDIAWORKER_MAX_STREAMS)
    if usage.worker + adding > worker_limit:
        return Shortfall("worker", worker_limit)
    room_limit = share_limit(settings.MEDIAWORKER_ROOM_SHARE)
    if usage.room + adding > room_limit:
        return Shortfall("room", room_limit)
    owner_limit = share_limit(settings.MEDIAWORKER_OWNER_SHARE)
    if usage.owner is not None and usage.owner + adding > owner_limit:
        return Shortfall("owner", owner_limit)
    return None


_RELAY_CODES = {"worker": "relay_full", "room": "relay_room_full", "owner": "relay_owner_full"}
_RECORDING_CODES = {"worker": "recording_unavailable", "room": "recording_room_full", "owner": "recording_owner_full"}


def _relay_clause(short: Shortfall) -> str:
    if short.scope == "room":
        return f"this room already takes all the media relay gives one room ({short.limit} streams)"
    if short.scope == "owner":
        return (
            f"the rooms of this room's owner already take all the media relay gives one person ({short.limit} streams)"
        )
    return f"the media relay is full ({short.limit} streams)"


def _advice(short: Shortfall) -> str:
    return "Try again later." if short.scope == "worker" else "Try again when someone leaves."


def relay_refusal(short: Shortfall) -> tuple[str, str]:
    """The error code and sentence for a newcomer the relay does not connect."""
    clause = _relay_clause(short)
    message = f"{clause[0].upper()}{clause[1:]}: nobody can see or hear you here. {_advice(short)}"
    return _RELAY_CODES[short.scope], message


def pair_refusal(short: Shortfall, partner: str) -> tuple[str, str]:
    """The error code and sentence for a failed pair the relay does not carry."""
    message = (
        f"The direct connection to {partner} failed, and {_relay_clause(short)}: you may not see or hear each other."
    )
    return _RELAY_CODES[short.scope], f"{message} {_advice(short)}"


def recording_refusal(short: Shortfall) -> tuple[str, str]:
    """The error code and sentence for a recording the worker does not start."""
    if short.scope == "room":
        why = f"this room would take more of the media worker than one room may ({short.limit} streams)"
    elif short.scope == "owner":
        why = (
            "the rooms of this room's owner would take more of the media worker than one person may "
            f"({short.limit} streams)"
        )
    else:
        why = f"the media worker is at capacity ({short.limit} streams)"
    return _RECORDING_CODES[short.scope], f"Recording is unavailable: {why}. {_advice(short)}"
