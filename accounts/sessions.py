"""Database sessions whose keys carry their own signature.

Django's session key is a random string looked up in the database. The room socket refuses a
handshake whose session cookie is missing or forged before it costs a database hop
(signaling/auth.py), so the key itself has to say whether this server made it: the first 20
characters are random, the last 20 an HMAC of them under SECRET_KEY. Nothing else changes:
the session is still a database row, logging out or flushing still ends it. (Django's
`signed_cookies` engine would sign too, but it keeps the whole session in the browser, so a
logout could not end a stolen session.) A key without a valid signature (one made before this
engine, or forged) reads as no session at all: no query, a fresh session on the next save.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac

_RANDOM_CHARS = 20
_SIGNATURE_CHARS = 20  # hex: 80 bits
_SALT = "accounts.sessions.key"


def _signature(random_part: str) -> str:
    return salted_hmac(_SALT, random_part, algorithm="sha256").hexdigest()[:_SIGNATURE_CHARS]


def new_session_key() -> str:
    """A fresh session key signed by this server (40 characters of [a-z0-9])."""
    random_part = get_random_string(_RANDOM_CHARS, VALID_KEY_CHARS)
    return random_part + _signature(random_part)


def is_signed_key(key: str | None) -> bool:
    """True when `key` was made by `new_session_key` with this SECRET_KEY (CPU only)."""
    if not key or len(key) != _RANDOM_CHARS + _SIGNATURE_CHARS:
        return False
    return constant_time_compare(key[_RANDOM_CHARS:], _signature(key[:_RANDOM_CHARS]))


class SessionStore(db.SessionStore):
    def _get_new_session_key(self) -> str:
        while True:
            key = new_session_key()
            if not self.exists(key):
                return key

    async def _aget_new_session_key(self) -> str:
        while True:
            key = new_session_key()
            if not await self.aexists(key):
                return key

    def _validate_session_key(self, key: str | None) -> bool:
        return is_signed_key(key)
