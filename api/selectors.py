"""Reads for the REST API: the rooms and recordings a key may see."""

from django.db.models import QuerySet

from api.models import ApiKey
from mediaworker.models import Recording
from rooms.models import Room


def rooms_for(key: ApiKey) -> QuerySet[Room]:
    """Every room for a site key (or a staff owner's); the owner's rooms for a user's key."""
    rooms = Room.objects.select_related("owner").prefetch_related("moderators").order_by("slug")
    if key.owner is None or key.owner.is_staff:
        return rooms
    return rooms.filter(owner=key.owner)


def recordings_for(key: ApiKey) -> QuerySet[Recording]:
    """The recordings of the rooms `key` manages, newest first."""
    return Recording.objects.select_related("room").filter(room__in=rooms_for(key)).order_by("-started", "-pk")
