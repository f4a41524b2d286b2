"""ICE servers for browsers, with short-lived TURN REST credentials.

The TURN credential follows coturn's `use-auth-secret` scheme: the username is
`<expiry unix time>:<user id>` and the password is base64(HMAC-SHA1(secret, username)),
so coturn can check it without a database and it stops working at expiry.

Each person gets at most TURN_CREDENTIALS_PER_HOUR credentials (counted in Django's cache,
across processes with REDIS_URL): past it, `welcome` carries STUN only, followed by an `error`
`turn_throttled`, and /ice-servers/ answers 429 with the same code (docs/protocol.md).
"""

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from audioexchange.throttle import usage, wait_sentence
from signaling import metrics

TURN_THROTTLED = "turn_throttled"


def turn_credentials(user_key: str, now: float | None = None) -> tuple[str, str]:
    """Return (username, password) valid for TURN_CREDENTIAL_TTL seconds from `now`."""
    expiry = int(now if now is not None else time.time()) + int(settings.TURN_CREDENTIAL_TTL)
    username = f"{expiry}:{user_key}"
    digest = hmac.new(settings.TURN_SHARED_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def turn_refusal(user_key: str) -> str | None:
    """Count one TURN credential for `user_key`; the sentence to show when it is one too many
    this hour (None: hand it out). Without TURN_URLS nothing is counted."""
    if not settings.TURN_URLS:
        return None
    issued = usage(
        None, "signaling.turn", settings.TURN_CREDENTIALS_PER_HOUR, 3600, key=lambda *_: user_key, count=True
    )
    if not issued.over:
        return None
    return _(
        "You have joined calls very often in the last hour, so this call gets no relay (TURN) server: "
        "it connects directly, which fails on some networks. If people cannot hear you, rejoin %(wait)s."
    ) % {"wait": wait_sentence(issued.seconds_left)}


def ice_servers_for(user_key: str, with_turn: bool = True) -> list[dict[str, Any]]:
    """The RTCIceServer list for one connection, as sent in `welcome` (STUN only without `with_turn`)."""
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS and with_turn:
        username, credential = turn_credentials(user_key)
        servers.append({"urls": list(settings.TURN_URLS), "username": username, "credential": credential})
        metrics.TURN_CREDENTIALS_ISSUED.inc()
    return servers
