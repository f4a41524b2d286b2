"""Signed join tokens: another app puts its own people into one room, `/rooms/<slug>/?jwt=<token>`.

An HS256 JWT (PyJWT) signed with `JOIN_TOKEN_SECRET`, with the claims `room` (the slug),
`name`, `moderator` (bool), `exp` and, optionally, `sub` (the caller's own user id). The
same shape Jitsi's `?jwt=` uses, reduced to what a room here has. Checking one never
touches the database; `invites.services.grant_token` turns a valid one into a guest grant.
"""

import time
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.utils.translation import gettext as _

ALGORITHM = "HS256"
MAX_NAME = 40  # as invites.services.MAX_GUEST_NAME (not imported: services imports this module)


@dataclass(frozen=True)
class JoinClaims:
    """What a valid token says: who, in which room, with which rights, until when."""

    room: str
    name: str
    moderator: bool
    expires: int
    subject: str = ""


class TokenRefused(Exception):
    """A token that lets nobody in: `code` names why, `message` says what to do."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def mint(room: str, name: str, *, moderator: bool = False, seconds: int = 3600, subject: str = "") -> str:
    """A join token for `room`, valid `seconds` (the API's "mint a join token"; tests)."""
    claims: dict[str, Any] = {
        "room": room,
        "name": name,
        "moderator": moderator,
        "exp": int(time.time()) + seconds,
    }
    if subject:
        claims["sub"] = subject
    return jwt.encode(claims, _secret(), algorithm=ALGORITHM)


def verify(token: str, slug: str) -> JoinClaims:
    """The claims of `token` if it is valid now for room `slug`, else `TokenRefused`."""
    secret = _secret()
    options = {"require": ["exp", "room", "name"]}
    try:
        raw = jwt.decode(token, secret, algorithms=[ALGORITHM], options=options)  # type: ignore[arg-type]
    except jwt.ExpiredSignatureError:
        raise TokenRefused(
            "token_expired", _("This join link has expired. Go back to the app that sent you and open the call again.")
        ) from None
    except jwt.InvalidSignatureError:
        raise TokenRefused(
            "token_bad_signature",
            _("This join link was not signed by this server's key. Ask the app that sent you to check its settings."),
        ) from None
    except jwt.MissingRequiredClaimError as error:
        raise TokenRefused(
            "token_incomplete",
            _("This join link lacks its %(claim)r claim; the app that made it must add it.") % {"claim": error.claim},
        ) from None
    except jwt.InvalidTokenError:
        raise TokenRefused(
            "token_malformed", _("This join link is damaged or incomplete. Copy it again, or ask for a new one.")
        ) from None
    return _claims(raw, slug)


def _secret() -> str:
    secret: str = settings.JOIN_TOKEN_SECRET
    if not secret:
        raise TokenRefused(
            "join_tokens_off",
            _("This server does not accept join links from other apps (JOIN_TOKEN_SECRET is not set)."),
            status=404,
        )
    return secret


def _claims(raw: dict[str, Any], slug: str) -> JoinClaims:
    if raw["room"] != slug:
        raise TokenRefused(
            "token_wrong_room",
            _("This join link is for another room, not /rooms/%(slug)s/. Use the link you were given.")
            % {"slug": slug},
        )
    if raw["exp"] - time.time() > settings.JOIN_TOKEN_MAX_SECONDS:
        raise TokenRefused(
            "token_too_long",
            _(
                "This join link lives longer than the %(seconds)d s this server allows; "
                "the app that made it must give it a nearer expiry."
            )
            % {"seconds": settings.JOIN_TOKEN_MAX_SECONDS},
        )
    name = str(raw["name"]).strip()[:MAX_NAME]
    if not name:
        raise TokenRefused("token_no_name", _("This join link carries no name; the app that made it must add one."))
    moderator = raw.get("moderator", False)
    if not isinstance(moderator, bool):
        raise TokenRefused("token_malformed", _("This join link's 'moderator' claim must be true or false."))
    return JoinClaims(slug, name, moderator, int(raw["exp"]), str(raw.get("sub", "")))
