"""Invite links and the guests they let in.

A guest is a display name and a random id kept in the session of whoever opened a
valid link, for that one room; the room socket reads it from the session
(signaling/auth.py), never from a message. Guests never own, manage or moderate.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from invites import tokens
from invites.models import Invite
from rooms.models import Room

_GUESTS_KEY = "guests"
MAX_GUEST_NAME = 40


@dataclass(frozen=True)
class Guest:
    """Someone in a room through an invite, without an account. Reads like an anonymous user
    to permission checks (`is_authenticated` is False), so it can never manage anything."""

    guest_id: str
    name: str
    invite_id: int | None  # None: let in by a join token (invites/tokens.py)
    moderator: bool = False  # a join token's `moderator` claim, for this room only
    is_authenticated = False
    is_staff = False
    pk = None

    @property
    def public_name(self) -> str:
        return f"{self.name} (guest)"


class InviteUnusable(Exception):
    """The link cannot be used; `status` is the HTTP status of the page that says why."""

    def __init__(self, status: int, title: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.code = code  # the refusal's code, shown on the page when it has one


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(
    room: Room, by: User | None, *, expires_at: datetime | None = None, max_uses: int | None = None, label: str = ""
) -> tuple[Invite, str]:
    """A new invite and its token; the token is not stored, show it to the owner once."""
    token = secrets.token_urlsafe(24)
    invite = Invite.objects.create(
        room=room, token_hash=hash_token(token), created_by=by, expires_at=expires_at, max_uses=max_uses, label=label
    )
    return invite, token


def revoke(invite: Invite) -> None:
    invite.revoked = True
    invite.save(update_fields=["revoked"])


def _usable() -> Q:
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    uses_left = Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))
    return Q(revoked=False) & unexpired & uses_left


def find_invite(token: str) -> Invite:
    """The invite behind `token` (usable or not), or `InviteUnusable` (404)."""
    invite = Invite.objects.select_related("room__owner").filter(token_hash=hash_token(token)).first()
    if invite is None:
        raise InviteUnusable(
            404,
            _("No such invite"),
            _("This invite link is not valid. Check it, or ask for a new one."),
            "invite_unknown",
        )
    return invite


def explain_unusable(invite: Invite) -> None:
    """Raise `InviteUnusable` (410) if the invite was revoked, has expired or is used up."""
    if invite.room.owner:
        ask = _("Ask %(owner)s for a new link.") % {"owner": invite.room.owner.public_name}
    else:
        ask = _("Ask the room owner for a new link.")
    if invite.revoked:
        raise InviteUnusable(
            410,
            _("This invite was withdrawn"),
            _("The room's owner withdrew this invite.") + f" {ask}",
            "invite_withdrawn",
        )
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        when = timezone.localtime(invite.expires_at).strftime("%Y-%m-%d %H:%M")
        expired = _("This invite expired on %(when)s.") % {"when": when}
        raise InviteUnusable(410, _("This invite has expired"), f"{expired} {ask}", "invite_expired")
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise InviteUnusable(
            410,
            _("This invite is used up"),
            ngettext("This invite was for %(uses)d use.", "This invite was for %(uses)d uses.", invite.max_uses)
            % {"uses": invite.max_uses}
            + f" {ask}",
            "invite_used_up",
        )


def redeem(invite: Invite, session: SessionBase, name: str) -> Guest:
    """Spend one use of `invite` and make the session a guest of its room.

    The use is counted by one conditional UPDATE, so two people racing for the last use
    cannot both get it: the loser gets `InviteUnusable` (410).
    """
    spent = Invite.objects.filter(_usable(), pk=invite.pk).update(uses=F("uses") + 1)
    if not spent:
        invite.refresh_from_db()
        explain_unusable(invite)
        raise InviteUnusable(
            410, _("This invite is used up"), _("This invite cannot be used any more."), "invite_used_up"
        )
    guest = Guest(guest_id=secrets.token_urlsafe(12), name=name, invite_id=invite.pk)
    guests = dict(session.get(_GUESTS_KEY, {}))
    guests[invite.room.slug] = {"id": guest.guest_id, "name": guest.name, "invite": invite.pk}
    session[_GUESTS_KEY] = guests
    return guest


def grant_token(session: SessionBase, slug: str, token: str) -> Guest:
    """Check a join token for room `slug` and make the session its guest there (only there).

    Raises `InviteUnusable` (with the token's refusal code) for an expired, foreign-key or
    other-room token. The guest id comes from the token's `sub`, else from the token itself,
    so a barred person cannot come back with the same token or under the same `sub`. The grant
    records the room's id, so a later room under the same slug does not inherit it.
    """
    try:
        claims = tokens.verify(token, slug)
    except tokens.TokenRefused as refusal:
        raise InviteUnusable(refusal.status, _("This join link does not work"), refusal.message, refusal.code) from None
    room_id = Room.objects.filter(slug=slug).values_list("pk", flat=True).first()
    source = f"sub:{claims.subject}" if claims.subject else f"token:{token}"
    guest_id = "t" + hash_token(f"{slug}:{source}")[:16]
    guests = dict(session.get(_GUESTS_KEY, {}))
    guests[slug] = {"id": guest_id, "name": claims.name, "token": True, "room": room_id, "moderator": claims.moderator}
    session[_GUESTS_KEY] = guests
    return Guest(guest_id=guest_id, name=claims.name, invite_id=None, moderator=claims.moderator)


class GuestRefused(Exception):
    """A guest grant whose invite no longer lets its guest in: `code` and `message` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _grant(session: Any, slug: str) -> dict[str, Any] | None:
    grants = session.get(_GUESTS_KEY, {}) if session is not None else {}
    grant = grants.get(slug) if isinstance(grants, dict) else None
    if not isinstance(grant, dict):
        return None
    if grant.get("token") is True or isinstance(grant.get("invite"), int):
        return grant
    return None


def _token_guest(grant: dict[str, Any], room: Room) -> Guest | None:
    """A join token's grant, for the room it was made in (by id) only."""
    if grant.get("room") != room.pk:
        return None
    return Guest(str(grant["id"]), str(grant["name"]), None, moderator=grant.get("moderator") is True)


def guest_for(session: Any, room: Room) -> Guest | None:
    """The guest this session is in `room`, checked against the invite that made it: the
    invite's room by id (a grant is filed under a slug, and a slug can name another room
    later), its withdrawal and its expiry. None: no grant for this room; `GuestRefused`: the
    invite no longer lets its guest in."""
    grant = _grant(session, room.slug)
    if grant is None:
        return None
    if grant.get("token") is True:
        return _token_guest(grant, room)
    invite = Invite.objects.filter(pk=grant["invite"]).first()
    if invite is None or invite.room_id != room.pk:
        return None
    if invite.revoked:
        raise GuestRefused("invite_withdrawn", _("The room's owner withdrew the invite link you came in with."))
    if invite.expires_at is not None and invite.expires_at <= timezone.now():
        raise GuestRefused("invite_expired", _("The invite link you came in with has expired; ask for a new one."))
    return Guest(guest_id=str(grant["id"]), name=str(grant["name"]), invite_id=invite.pk)


def guest_in(session: Any, slug: str) -> Guest | None:
    """The guest this session is in room `slug` (by a join token, or while their invite still lets
    them in), else None."""
    room = Room.objects.filter(slug=slug).first() if _grant(session, slug) is not None else None
    if room is None:
        return None
    try:
        return guest_for(session, room)
    except GuestRefused:
        return None
