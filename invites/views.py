"""Invite pages: the owner's list (create, revoke) and `/i/<token>/`, where guests come in."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from invites import selectors, services
from invites.forms import GuestNameForm, InviteCreateForm
from invites.models import Invite
from moderation import selectors as moderation_selectors
from rooms.models import Room
from rooms.views import managers_only


@managers_only
def room_invites(request: HttpRequest, room: Room) -> HttpResponse:
    """GET lists the room's invites; POST makes one and shows its link, this once."""
    form = InviteCreateForm(request.POST or None)
    link = ""
    if request.method == "POST" and form.is_valid():
        assert isinstance(request.user, User)
        _, token = services.create_invite(
            room,
            request.user,
            expires_at=form.expires_at(),
            max_uses=form.cleaned_data.get("max_uses"),
            label=form.cleaned_data.get("label", ""),
        )
        link = request.build_absolute_uri(reverse("invite", kwargs={"token": token}))
        form = InviteCreateForm()
    context = {"room": room, "form": form, "link": link, "invites": selectors.room_invites(room)}
    return render(request, "invites/room_invites.html", context)


@managers_only
def revoke_invite(request: HttpRequest, room: Room) -> HttpResponse:
    """POST `invite`: withdraw it; guests already in stay until they leave, then cannot come back."""
    invite_id = request.POST.get("invite", "")
    invite = selectors.get_invite(room, int(invite_id)) if invite_id.isdigit() else None
    if request.method == "POST" and invite is not None:
        services.revoke(invite)
        messages.success(request, _("Invite withdrawn: its link no longer works."))
    return HttpResponseRedirect(reverse("room-invites", kwargs={"slug": room.slug}), status=303)


def _unusable(request: HttpRequest, refusal: services.InviteUnusable) -> HttpResponse:
    context = {"title": refusal.title, "message": refusal.message, "code": refusal.code}
    return render(request, "rooms/room_unavailable.html", context, status=refusal.status)


def invite(request: HttpRequest, token: str) -> HttpResponse:
    """A guest types a name and joins; a signed-in person goes straight to the room."""
    try:
        found = services.find_invite(token)
    except services.InviteUnusable as refusal:
        return _unusable(request, refusal)
    room_url = found.room.get_absolute_url()
    # Signed in, or already a guest of this room (a reload, a second visit): no use is spent.
    if request.user.is_authenticated or services.guest_in(request.session, found.room.slug) is not None:
        return HttpResponseRedirect(room_url)
    if moderation_selectors.is_invite_barred(found.room, found.pk, request.META.get("REMOTE_ADDR", "")):
        return _unusable(request, _barred_here(found))
    form = GuestNameForm(request.POST or None)
    try:
        services.explain_unusable(found)
        if request.method == "POST" and form.is_valid():
            services.redeem(found, request.session, form.cleaned_data["name"])
            return HttpResponseRedirect(room_url, status=303)
    except services.InviteUnusable as refusal:
        return _unusable(request, refusal)
    return render(request, "invites/guest_join.html", {"room": found.room, "form": form})


def _barred_here(invite: Invite) -> services.InviteUnusable:
    """A guest who came in through this link from this address was removed and barred: a new
    guest session (another browser, cleared cookies) that way is turned away too."""
    barred = _("A guest who came in with this invite link from your address was removed from the meeting and barred.")
    if invite.room.owner:
        ask = _("Ask %(owner)s for a new link if you should be in it.") % {"owner": invite.room.owner.public_name}
    else:
        ask = _("Ask the room owner for a new link if you should be in it.")
    return services.InviteUnusable(403, _("You may not join this meeting"), f"{barred} {ask}", code="invite_banned")
