"""ICE servers for browsers, with short-lived TURN REST credentials.

The TURN credential follows coturn's `use-auth-secret` scheme: the username is
`<expiry unix time>:<user id>` and the password is base64(HMAC-SHA1(secret, username)),
so coturn can check it without a database and it stops working at expiry.
"""

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

from signaling import metrics


def turn_credentials(user_key: str, now: float | None = None) -> tuple[str, str]:
    """Return (username, password) valid for TURN_CREDENTIAL_TTL seconds from `now`."""
    expiry = int(now if now is not None else time.time()) + int(settings.TURN_CREDENTIAL_TTL)
    username = f"{expiry}:{user_key}"
    digest = hmac.new(settings.TURN_SHARED_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(user_key: str) -> list[dict[str, Any]]:
    """The RTCIceServer list for one connection, as sent in `welcome`."""
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS:
        username, credential = turn_credentials(user_key)
        servers.append({"urls": list(settings.TURN_URLS), "username": username, "credential": credential})
        metrics.TURN_CREDENTIALS_ISSUED.inc()
    return servers
