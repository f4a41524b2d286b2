"""Account forms: they parse and validate input; accounts.services does the writing."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class SignUpForm(UserCreationForm):
    """Username, display name and the password twice (checked by the password validators)."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "display_name")
        labels = {"display_name": _("Display name")}
        help_texts = {"display_name": _("What others see in calls. Leave empty to use your username.")}

    def clean_username(self) -> str:
        username: str = self.cleaned_data.get("username", "")
        if username and User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("That username is taken; choose another, or log in if it is yours."))
        return username


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=64,
        required=False,
        label=_("Display name"),
        help_text=_("What others see in calls. Leave empty to use your username."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"display_name": user.display_name})
        super().__init__(*args, **kwargs)


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "That username and password do not match an account. "
            "Check both (passwords are case-sensitive), or sign up if you are new."
        ),
    }
