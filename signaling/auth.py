"""Who is on the other end of a WebSocket: the session cookie, read inside the join's one database hop.

Channels' `AuthMiddlewareStack` loads the session and the user in a database hop of its own,
before the consumer runs and so before the socket is accepted. Every hop waits in one queue
(the thread that runs `database_sync_to_async`), so under a join storm every handshake waited
behind thousands of others and daphne aborted it after `--websocket_connect_timeout`. Here the
middleware only marks the user as unresolved; `resolve_user` loads it, with the same checks as
Channels' `get_user` (the session's auth hash included), inside the hop that also reads the room.
The socket is accepted at once and the join costs one hop instead of two.

Cookies, session and user go into the scope in one middleware and one copy of the scope.
Channels' stack (CookieMiddleware, SessionMiddleware, then ours) kept three copies, three
suspended coroutines and a session wrapper alive for as long as each socket stays open, and ran
every outgoing frame through the wrapper's `send`; a WebSocket never sets cookies, so the
wrapper had nothing to do.
"""

from importlib import import_module
from typing import Any

from channels.auth import UserLazyObject, get_user
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import parse_cookie
from django.utils.functional import empty


class SessionScopeMiddleware:
    """Put the cookies, the session (not loaded until read) and an unresolved user in the scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        cookies = _cookies(scope.get("headers", ()))
        session = self.session_store(cookies.get(settings.SESSION_COOKIE_NAME))
        scope = dict(scope, cookies=cookies, session=session, user=UserLazyObject())
        return await self.inner(scope, receive, send)


def _cookies(headers: Any) -> dict[str, str]:
    for name, value in headers:
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}


def resolve_user(scope: dict[str, Any]) -> AbstractBaseUser | AnonymousUser:
    """The scope's user, loading session and user now if nobody has (call from sync code only)."""
    user = scope.get("user")
    if isinstance(user, UserLazyObject):
        if user._wrapped is empty:  # type: ignore[attr-defined]
            user._wrapped = get_user.func(scope)  # type: ignore[attr-defined]
        return user._wrapped  # type: ignore[no-any-return]
    return user if user is not None else AnonymousUser()


def SessionAuthMiddlewareStack(inner: Any) -> Any:
    """Cookies, the session (loaded lazily) and a user resolved in the consumer's own database hop."""
    return SessionScopeMiddleware(inner)
