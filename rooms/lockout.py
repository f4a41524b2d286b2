"""Room password guessing: at most ROOM_PASSWORD_ATTEMPTS wrong passwords per room and client
address in any ROOM_PASSWORD_WINDOW_SECONDS. Past that the room refuses that address's
password attempts, right or wrong (so the lockout tells nothing), until the oldest expires.

Why not django-ratelimit here (the sign-in forms use it): its windows are fixed, so 10 at the
end of one window and 10 at the start of the next would give 20 guesses in a minute. Each
attempt instead takes one of ROOM_PASSWORD_ATTEMPTS slots in Django's cache with `cache.add`
(Redis SET NX with REDIS_URL, so processes cannot both take one), held for the window. A slot
is taken before the password is checked, so parallel requests cannot overshoot, and given back
when the password was right.
"""

import ipaddress
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from rooms.models import Room


def _client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR (daphne sets it from the socket, or from nginx's X-Forwarded-For with
    BEHIND_PROXY), IPv6 by its /64: one home or host has a whole /64 to pick addresses from."""
    address = str(request.META.get("REMOTE_ADDR") or "unknown")
    if ":" not in address:
        return address
    try:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    except ValueError:
        return address


def _slot_keys(request: HttpRequest, room: Room) -> list[str]:
    base = f"rooms.password:{room.pk}:{room.slug}:{_client_address(request)}"
    return [f"{base}:{slot}" for slot in range(settings.ROOM_PASSWORD_ATTEMPTS)]


def _seconds_until_a_slot_frees(taken: dict[str, float]) -> int:
    oldest = min(taken.values())
    return max(1, math.ceil(oldest + settings.ROOM_PASSWORD_WINDOW_SECONDS - time.time()))


def locked_out_for(request: HttpRequest, room: Room) -> int | None:
    """Seconds until this client may try `room`'s password again; None when it may now."""
    keys = _slot_keys(request, room)
    taken = cache.get_many(keys)
    if len(taken) < len(keys):
        return None
    return _seconds_until_a_slot_frees(taken)


def take_attempt(request: HttpRequest, room: Room) -> str | int:
    """Take one attempt for this client: its slot key, or the seconds to wait when none is free."""
    now = time.time()
    for key in _slot_keys(request, room):
        if cache.add(key, now, timeout=settings.ROOM_PASSWORD_WINDOW_SECONDS):
            return key
    return locked_out_for(request, room) or 1


def give_back(slot: str) -> None:
    """The password was right: the attempt does not count."""
    cache.delete(slot)
