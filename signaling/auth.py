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

A handshake without a session cookie, or with one this server did not sign
(accounts/sessions.py), is refused here, before the consumer, the admission gate or any
database hop: `no_session` / `bad_session` and a close 4401. A script opening sockets in a
loop without logging in costs a few microseconds of CPU each, never a place in the join queue.
"""

from importlib import import_module
from typing import Any

from channels.auth import UserLazyObject, get_user
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import parse_cookie
from django.utils import translation
from django.utils.functional import empty
from django.utils.translation import gettext_noop

from accounts.sessions import is_signed_key
from signaling import metrics, protocol
from signaling.language import connection_language
from signaling.protocol import CloseCode

NO_SESSION = (
    "no_session",
    gettext_noop(
        "Your browser sent no session: open the room's page (log in, or open your invite link) "
        "and allow cookies for this site."
    ),
)
BAD_SESSION = (
    "bad_session",
    gettext_noop("Your session is not valid here (it may have expired): reload the page or log in again."),
)


class SessionScopeMiddleware:
    """Put the cookies, the session (not loaded until read) and an unresolved user in the scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        cookies = _cookies(scope.get("headers", ()))
        key = cookies.get(settings.SESSION_COOKIE_NAME)
        if not key or not is_signed_key(key):
            return await _refuse(scope, receive, send, *(BAD_SESSION if key else NO_SESSION))
        session = self.session_store(key)
        scope = dict(scope, cookies=cookies, session=session, user=UserLazyObject())
        return await self.inner(scope, receive, send)


async def _refuse(scope: Any, receive: Any, send: Any, reason: str, sentence: str) -> None:
    """Accept, say why in an `error`, close 4401: the page shows the sentence (a handshake
    refused with HTTP 403 would reach the browser as a bare 1006)."""
    event = await receive()
    if event["type"] != "websocket.connect":
        return
    metrics.CONNECTIONS_REFUSED.labels(reason=reason).inc()
    await send({"type": "websocket.accept"})
    with translation.override(connection_language(scope)):
        text = protocol.render_refusal(reason, sentence)
    await send({"type": "websocket.send", "text": text})
    await send({"type": "websocket.close", "code": int(CloseCode.NOT_LOGGED_IN)})


def client_address(scope: dict[str, Any]) -> str:
    """The address the connection comes from (behind nginx: the one daphne's --proxy-headers
    took from X-Forwarded-For), or "" when the server does not say."""
    client = scope.get("client")
    return str(client[0]) if client else ""


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
