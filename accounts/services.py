"""Writes and business rules for accounts. Views and the admin call these."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User

_DISPLAY_NAME_MAX = User._meta.get_field("display_name").max_length or 64


def sign_up(*, username: str, password: str, display_name: str = "") -> User:
    """Create an account with a hashed password; the caller has already checked the password's strength.

    Raises ValidationError on `username` when someone took it first.
    """
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password, display_name=display_name.strip())
    except IntegrityError as exc:
        raise ValidationError({"username": _("That username was just taken; choose another.")}) from exc


def change_display_name(user: User, display_name: str) -> User:
    """Set the name others see in calls; an empty name falls back to the username.

    People already in a call keep showing the old name until they rejoin.
    """
    display_name = display_name.strip()
    if len(display_name) > _DISPLAY_NAME_MAX:
        raise ValidationError(
            {"display_name": _("Keep the display name to %(max)d characters or fewer.") % {"max": _DISPLAY_NAME_MAX}}
        )
    user.display_name = display_name
    user.save(update_fields=["display_name"])
    return user
