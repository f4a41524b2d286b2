"""Forms for the room pages and the admin. They parse input; rules live in services."""

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from rooms.models import Room, RoomMode
from rooms.services import check_capacity, check_slug_free

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

_SLUG_INVALID = _("Use only letters, digits, hyphens and underscores: the slug becomes the room's address.")


def _capacity_field(**kwargs: Any) -> forms.IntegerField:
    limit = int(settings.ROOM_MAX_PARTICIPANTS_LIMIT)
    wrong_size = format_lazy(_("A room holds between 2 and {limit} people; pick a number in that range."), limit=limit)
    return forms.IntegerField(
        label=_("Max participants"),
        min_value=2,
        max_value=limit,
        error_messages={"min_value": wrong_size, "max_value": wrong_size},
        **kwargs,
    )


def _password_field(label: "StrOrPromise", help_text: "StrOrPromise") -> forms.CharField:
    """A new room password: optional, at least ROOM_PASSWORD_MIN_LENGTH characters when given."""
    shortest = int(settings.ROOM_PASSWORD_MIN_LENGTH)
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        min_length=shortest,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=help_text,
        error_messages={
            "min_length": format_lazy(
                _("Use at least {shortest} characters: a short room password is quickly guessed."), shortest=shortest
            ),
        },
    )


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, on the field it names when the form has it."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class RoomCreateForm(forms.Form):
    slug = forms.SlugField(
        max_length=64,
        label=_("Room address"),
        error_messages={"invalid": _SLUG_INVALID},
        help_text=_("The room's address, as in /rooms/daily-standup/: letters, digits, - and _."),
    )
    name = forms.CharField(
        max_length=120, required=False, label=_("Name"), help_text=_("Defaults to the room address.")
    )
    description = forms.CharField(
        max_length=2000, required=False, label=_("Description"), widget=forms.Textarea(attrs={"rows": 2})
    )
    password = _password_field(_("Password"), _("Optional: people must enter it before joining."))
    audio_only = forms.BooleanField(required=False, label=_("Audio only (no video)"))
    mode = forms.ChoiceField(
        choices=RoomMode.choices, initial=RoomMode.MESH, required=False, label=_("How sound and video travel")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_participants"] = _capacity_field(initial=settings.ROOM_DEFAULT_MAX_PARTICIPANTS)
        self.order_fields(["slug", "name", "description", "password", "max_participants", "audio_only", "mode"])

    def clean_mode(self) -> str:
        return str(self.cleaned_data.get("mode") or RoomMode.MESH)

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"]
        try:
            check_slug_free(slug)
        except ValidationError as error:
            raise ValidationError(error.message_dict["slug"]) from None
        return slug


class RoomEditForm(forms.Form):
    name = forms.CharField(max_length=120, label=_("Name"))
    description = forms.CharField(
        max_length=2000, required=False, label=_("Description"), widget=forms.Textarea(attrs={"rows": 3})
    )
    audio_only = forms.BooleanField(required=False, label=_("Audio only (no video)"))
    mode = forms.ChoiceField(choices=RoomMode.choices, required=False, label=_("How sound and video travel"))
    locked = forms.BooleanField(required=False, label=_("Locked (nobody new can join)"))
    knock = forms.BooleanField(required=False, label=_("Ask to join (newcomers wait until a moderator lets them in)"))
    public = forms.BooleanField(required=False, label=_("Listed (everyone signed in sees this room in the lobby)"))
    moderators = forms.CharField(
        required=False,
        max_length=1000,
        label=_("Moderators"),
        help_text=_("Usernames, separated by commas: they may mute, remove and admit people, lock and end the call."),
    )
    new_password = _password_field(_("New password"), _("Leave empty to keep the current password."))
    clear_password = forms.BooleanField(required=False, label=_("Remove the password"))

    def __init__(self, *args: Any, room: Room, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "name": room.name,
                "description": room.description,
                "max_participants": room.max_participants,
                "audio_only": room.audio_only,
                "mode": room.mode,
                "locked": room.locked,
                "knock": room.knock,
                "public": room.public,
                "moderators": ", ".join(room.moderators.order_by("username").values_list("username", flat=True)),
            },
        )
        super().__init__(*args, **kwargs)
        self.room_mode = room.mode
        self.fields["max_participants"] = _capacity_field()
        order = ["name", "description", "max_participants", "audio_only", "mode", "locked", "knock", "public"]
        order.append("moderators")
        self.order_fields([*order, "new_password"])
        if not room.has_password:
            del self.fields["clear_password"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("new_password") and cleaned.get("clear_password"):
            raise ValidationError(_("Either type a new password or tick “Remove the password”, not both."))
        return cleaned

    def clean_mode(self) -> str:
        return str(self.cleaned_data.get("mode") or self.room_mode)

    def room_fields(self) -> dict[str, Any]:
        """The cleaned values that map straight onto Room fields."""
        names = ("name", "description", "max_participants", "audio_only", "mode", "locked", "knock", "public")
        return {name: self.cleaned_data[name] for name in names}

    def moderator_usernames(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data.get("moderators", "").split(",") if name.strip()]


class RoomPasswordForm(forms.Form):
    password = forms.CharField(
        strip=False,
        max_length=128,
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class RoomAdminForm(forms.ModelForm):
    """The admin's room form: the password is set or cleared here, never shown."""

    new_password = _password_field(_("Password"), _("Set a new password; leave empty to keep the current one."))
    clear_password = forms.BooleanField(required=False, label=_("Remove the password"))

    class Meta:
        model = Room
        fields = [
            "slug",
            "name",
            "owner",
            "description",
            "max_participants",
            "audio_only",
            "mode",
            "locked",
            "knock",
            "public",
            "moderators",
        ]

    def clean_max_participants(self) -> int:
        value: int = self.cleaned_data["max_participants"]
        if "max_participants" in self.changed_data:
            try:
                check_capacity(value)
            except ValidationError as error:
                raise ValidationError(error.message_dict["max_participants"]) from None
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("new_password") and cleaned.get("clear_password"):
            raise ValidationError(_("Either type a new password or tick “Remove the password”, not both."))
        return cleaned
