"""Who a connection is: a signed-in user, or a guest let in by an invite link.

Read from the session (signaling/auth.py), never from a message.
"""

from dataclasses import dataclass
from typing import Any

from invites import services as invite_services
from invites.services import Guest
from moderation.services import Delegate
from rooms.models import Room
from signaling.presence import GUEST_PREFIX


@dataclass(frozen=True)
class Identity:
    name: str
    user_id: int | None
    guest: Guest | None = None
    moderator: bool = False

    @property
    def guest_id(self) -> str:
        return self.guest.guest_id if self.guest else ""

    @property
    def key(self) -> str:
        """Names this person across connections: the user id, or the guest id."""
        return f"{GUEST_PREFIX}{self.guest.guest_id}" if self.guest else str(self.user_id)

    def delegate(self, slug: str) -> Delegate | None:
        """A guest moderating room `slug` by a join token's grant acts as a `Delegate` there."""
        if self.guest is None or not self.moderator:
            return None
        return Delegate(slug=slug, public_name=self.name)

    @property
    def ice_user(self) -> str:
        """The TURN credential's user part."""
        return self.key

    @property
    def invite_id(self) -> int | None:
        return self.guest.invite_id if self.guest else None


def identify(session: Any, user: Any, room: Room) -> Identity | None:
    """The signed-in user, else this session's guest grant for `room`, else None.

    A guest grant is checked against its invite on every connect: the invite's room (by id),
    its expiry and its withdrawal (`invite_services.GuestRefused` says which)."""
    if user is not None and user.is_authenticated:
        return Identity(name=user.public_name, user_id=user.pk)
    guest = invite_services.guest_for(session, room)
    if guest is None:
        return None
    return Identity(name=guest.public_name, user_id=None, guest=guest)
