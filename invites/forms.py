"""Forms for invite links. They parse input; rules live in invites.services."""

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invites.services import MAX_GUEST_NAME


class InviteCreateForm(forms.Form):
    label = forms.CharField(
        max_length=80, required=False, label=_("Label"), help_text=_("Optional: who the link is for.")
    )
    expires_in_hours = forms.IntegerField(
        label=_("Expires after (hours)"), min_value=1, max_value=24 * 90, required=False, help_text=_("Empty: never.")
    )
    max_uses = forms.IntegerField(
        label=_("Uses"),
        min_value=1,
        max_value=1000,
        required=False,
        help_text=_("1 for a single-use link; empty: any."),
    )

    def expires_at(self) -> datetime | None:
        hours = self.cleaned_data.get("expires_in_hours")
        return timezone.now() + timedelta(hours=hours) if hours else None


class GuestNameForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=MAX_GUEST_NAME,
        help_text=_("Shown to the others in the call."),
        widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
    )

    def clean_name(self) -> str:
        name = "".join(ch for ch in self.cleaned_data["name"] if ch.isprintable()).strip()
        if not name:
            raise forms.ValidationError(_("Type the name the others will see."))
        return name
