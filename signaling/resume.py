"""Resume tokens: a browser whose socket dropped comes back under the same peer id.

`welcome` (and, now and then, `pong`) gives the browser a token signed with SECRET_KEY,
binding a room, a peer id and who holds it (a user or a guest). Presented on reconnect
(`?resume=` on the socket URL) within `SIGNALING_RESUME_SECONDS`, by the same person, for the
same room, it gives back that peer id; anything else is ignored and the browser joins under a
new one. Signing is CPU-only: a resume costs no database or Redis hop beyond a normal join.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing

_SALT = "signaling.resume"


def issue(slug: str, peer_id: str, holder: str) -> str:
    """A token letting `holder` (`Identity.key`) take `peer_id` back in room `slug`."""
    return signing.dumps([slug, peer_id, holder], salt=_SALT, compress=False)


def peer_id_from(token: str, slug: str, holder: str) -> str | None:
    """The peer id `token` gives back, or None if it is forged, expired, or for another room or person."""
    if not token:
        return None
    try:
        max_age = timedelta(seconds=settings.SIGNALING_RESUME_SECONDS)
        claim = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(claim, list) or len(claim) != 3:
        return None
    room, peer_id, who = claim
    if room != slug or who != holder or not isinstance(peer_id, str):
        return None
    return peer_id
