"""Counting attempts per client address or person in Django's cache, with django-ratelimit.

With REDIS_URL the cache is Redis, so every process adds to the same count. Windows are
django-ratelimit's: fixed, `period` seconds long, each key with its own offset.
"""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage


@dataclass(frozen=True)
class Usage:
    """Attempts counted in the current window, and how long until it ends."""

    count: int
    limit: int
    seconds_left: int

    @property
    def over(self) -> bool:
        """More attempts than allowed (counting this one when it was counted): refuse it."""
        return self.count > self.limit


def usage(request: HttpRequest | None, group: str, limit: int, period: int, key: Any = "ip", *, count: bool) -> Usage:
    """The attempts of `request`'s client (`key`: django-ratelimit's, "ip" by default) in `group`.

    `request` may be None with a callable `key` (a person's id, outside any HTTP request).

    `count` adds this request as one more attempt. A cache that does not answer counts as
    exhausted (the limit fails closed, for the rest of a minute).
    """
    found = get_usage(request, group=group, key=key, rate=f"{limit}/{period}s", increment=count)
    if found is None:  # RATELIMIT_ENABLE = False
        return Usage(0, limit, 0)
    if found["limit"] == 0:  # the cache did not answer
        return Usage(limit + 1, limit, 60)
    return Usage(int(found["count"]), limit, max(1, int(found["time_left"])))


def wait_sentence(seconds: int) -> str:
    """“in 7 minutes” / “in a minute”: when a refused person may try again."""
    minutes = -(-seconds // 60)
    if minutes <= 1:
        return _("in a minute")
    return ngettext("in %(minutes)d minute", "in %(minutes)d minutes", minutes) % {"minutes": minutes}
