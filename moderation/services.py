"""Moderation rules: who may act, on whom, and the audit log of every action.

Synchronous database work; `signaling.moderation` calls these from the socket and
then acts on the connections (mute, disconnect, admit) through the channel layer.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from invites import services as invite_services
from invites.models import Invite
from moderation.models import Ban, ModerationAction
from moderation.selectors import is_moderator
from rooms import services as room_services
from rooms.models import Room


class ModerationRefused(Exception):
    """An action the server will not take; `code` and `message` go back to the actor."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """The person acted on, as signaling presence knows them (a ban records all of it)."""

    name: str
    user_id: int | None
    guest_id: str = ""
    peer_id: str = ""
    invite_id: int | None = None  # guests: the invite link they came in with
    address: str = ""  # the client address of the connection acted on


@dataclass(frozen=True)
class Delegate:
    """Moderates room `slug` by a grant checked elsewhere, without an account here: a join
    token's `moderator` claim (on the socket), or an API key (api/). Logged under `public_name`;
    like any moderator but the owner, it cannot act on the room's owner."""

    slug: str
    public_name: str
    pk = None


Actor = int | None | Delegate  # a user id, nobody, or a delegate


def authorize(slug: str, actor_id: Actor) -> tuple[Room, User | Delegate]:
    """The room and the acting user, if they moderate it; else `ModerationRefused('not_moderator')`."""
    room = Room.objects.select_related("owner").filter(slug=slug).first()
    if isinstance(actor_id, Delegate):
        if room is None or actor_id.slug != slug:
            raise ModerationRefused("not_moderator", _("That grant is for another room."))
        return room, actor_id
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    if room is None or actor is None or not is_moderator(actor, room):
        raise ModerationRefused(
            "not_moderator", _("Only the room's owner and its moderators can do that; ask one of them.")
        )
    return room, actor


def check_may_act_on(room: Room, actor: User | Delegate, target: Target) -> None:
    """Nobody but the owner acts on the owner (the Jitsi bug of participants kicking the host);
    only the owner and staff act on the room's moderators and on staff (a `Delegate` is a
    moderator, not the owner)."""
    if target.user_id is None:
        return
    if target.user_id == room.owner_id and actor.pk != room.owner_id:
        owner = _("%(name)s owns this room: nobody can mute or remove them.") % {"name": target.name}
        raise ModerationRefused("protected_owner", owner)
    if isinstance(actor, User) and room_services.can_manage(actor, room):
        return
    person = User.objects.filter(pk=target.user_id).first()
    if person is not None and person.is_staff:
        raise ModerationRefused(
            "protected_staff",
            _("%(name)s is staff: only the room's owner or staff can mute or remove them.") % {"name": target.name},
        )
    if person is not None and room.moderators.filter(pk=person.pk).exists():
        raise ModerationRefused(
            "protected_moderator",
            _("%(name)s moderates this room too: only its owner or staff can mute or remove them.")
            % {"name": target.name},
        )


def record(
    room: Room, actor: User | Delegate, action: str, target: Target | None = None, **details: Any
) -> ModerationAction:
    """Write one line of the audit log."""
    return ModerationAction.objects.create(
        room=room,
        room_slug=room.slug,
        actor=actor if isinstance(actor, User) else None,
        actor_name=actor.public_name,
        action=action,
        target_name=target.name if target else "",
        target_user_id=target.user_id if target else None,
        details=details,
    )


def act_on_person(slug: str, actor_id: Actor, action: str, target: Target, withdraw_invite: bool = False) -> str:
    """Authorize and log `action` on `target`; for `remove_and_bar`, bar them (a user by account,
    a guest by guest id and by invite and address) and, with `withdraw_invite`, withdraw the
    invite link a guest came in with. Returns the actor's name."""
    room, actor = authorize(slug, actor_id)
    check_may_act_on(room, actor, target)
    if withdraw_invite and target.invite_id is None:
        raise ModerationRefused(
            "no_invite",
            _("%(name)s joined with an account, not an invite link: there is no link to withdraw.")
            % {"name": target.name},
        )
    kind = ModerationAction.Kind.BAR if action == "remove_and_bar" else action
    details: dict[str, Any] = {"peer_id": target.peer_id, "guest": target.user_id is None}
    with transaction.atomic():
        if action == "remove_and_bar":
            bar(room, target, by=actor if isinstance(actor, User) else None)
        if withdraw_invite:
            _withdraw(room, target.invite_id)
            details["invite_withdrawn"] = True
        record(room, actor, kind, target, **details)
    return actor.public_name


def bar(room: Room, target: Target, by: User | None = None) -> None:
    """Bar a user, or a guest by the id in their session, from returning to `room` (idempotent).
    The ban also records the invite and the address, which refuse new guests that way."""
    try:
        with transaction.atomic():
            Ban.objects.create(
                room=room,
                user_id=target.user_id,
                guest_id=target.guest_id,
                invite_id=target.invite_id if _invite_exists(target.invite_id) else None,
                address=target.address or None,
                name=target.name,
                by=by,
            )
    except IntegrityError:
        pass  # already barred


def _invite_exists(invite_id: int | None) -> bool:
    return invite_id is not None and Invite.objects.filter(pk=invite_id).exists()


def _withdraw(room: Room, invite_id: int | None) -> None:
    invite = Invite.objects.filter(pk=invite_id, room=room).first() if invite_id is not None else None
    if invite is not None:
        invite_services.revoke(invite)


def act_on_room(slug: str, actor_id: Actor, action: str) -> str:
    """Authorize, apply (lock/unlock) and log a room action; returns the actor's name."""
    room, actor = authorize(slug, actor_id)
    with transaction.atomic():
        if action in ("lock", "unlock"):
            room_services.set_locked(room, action == "lock")
        record(room, actor, action)
    return actor.public_name


def authorize_name(slug: str, actor_id: Actor) -> str:
    """The acting moderator's name, or `ModerationRefused('not_moderator')`."""
    return authorize(slug, actor_id)[1].public_name


def set_moderators(room: Room, usernames: list[str]) -> None:
    """Make exactly these users the room's moderators; raises ValidationError naming unknown usernames."""
    users = list(User.objects.filter(username__in=usernames))
    unknown = sorted(set(usernames) - {user.username for user in users})
    if unknown:
        raise ValidationError(
            {"moderators": _("No account named %(names)s: check the spelling.") % {"names": ", ".join(unknown)}}
        )
    room.moderators.set(users)
