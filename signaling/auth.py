"""Who is on the other end of a WebSocket: the session cookie, read inside the join's one database hop.

Channels' `AuthMiddlewareStack` loads the session and the user in a database hop of its own,
before the consumer runs and so before the socket is accepted. Every hop waits in one queue
(the thread that runs `database_sync_to_async`), so under a join storm every handshake waited
behind thousands of others and daphne aborted it after `--websocket_connect_timeout`. Here the
middleware only marks the user as unresolved; `resolve_user` loads it, with the same checks as
Channels' `get_user` (the session's auth hash included), inside the hop that also reads the room.
The socket is accepted at once and the join costs one hop instead of two.
"""

from typing import Any

from channels.auth import UserLazyObject, get_user
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.utils.functional import empty


class LazyUserMiddleware(BaseMiddleware):
    """Put an unresolved `scope["user"]` in the scope; `resolve_user` fills it in a sync context."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if "session" not in scope:
            raise ValueError("LazyUserMiddleware needs SessionMiddleware above it.")
        scope = dict(scope)
        scope.setdefault("user", UserLazyObject())
        return await super().__call__(scope, receive, send)


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
    return CookieMiddleware(SessionMiddleware(LazyUserMiddleware(inner)))
