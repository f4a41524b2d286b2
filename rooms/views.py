"""Room pages: parse the request, check permission, call a service, render."""

from collections.abc import Callable
from functools import wraps
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from accounts.models import User
from audioexchange.throttle import wait_sentence
from invites import services as invite_services
from moderation import services as moderation_services
from rooms import lockout, selectors, services
from rooms.embedding import frameable_by_embedders
from rooms.forms import RoomCreateForm, RoomEditForm, RoomPasswordForm, add_service_errors
from rooms.models import Room

RoomView = Callable[[HttpRequest, Room], HttpResponse]
SlugView = Callable[[HttpRequest, str], HttpResponse]

_TRUE = {"1", "true", "on", "yes"}
LOBBY_PAGE_SIZE = 20
_FALSE = {"0", "false", "off", "no"}


def _refusal(request: HttpRequest, title: str, message: str, status: int, code: str = "") -> HttpResponse:
    context = {"title": title, "message": message, "code": code}
    return render(request, "rooms/room_unavailable.html", context, status=status)


def _no_such_room(request: HttpRequest, slug: str) -> HttpResponse:
    message = _("There is no room at /rooms/%(slug)s/. Check the address, or pick or create a room in the lobby.") % {
        "slug": slug
    }
    return _refusal(request, _("No such room"), message, status=404)


def not_a_room_address(request: HttpRequest, address: str) -> HttpResponse:
    """/rooms/<something that is not a room address>/: say what a room address looks like."""
    message = _(
        "“%(address)s” is not a room address: those are letters, digits, - and _, as in "
        "/rooms/daily-standup/. Check the address, or pick or create a room in the lobby."
    ) % {"address": address[:80]}
    return _refusal(request, _("No such room"), message, status=404)


def _room_locked(request: HttpRequest, room: Room) -> HttpResponse:
    message = _("“%(name)s” is locked, so nobody new can join. Ask its owner to unlock it, then try again.") % {
        "name": room.name
    }
    return _refusal(request, _("This room is locked"), message, status=423)


def _not_manager(request: HttpRequest, room: Room) -> HttpResponse:
    if room.owner:
        message = _(
            "Only its owner, %(owner)s, can change “%(name)s”. Ask them, or create a room of your own in the lobby."
        ) % {"owner": room.owner.public_name, "name": room.name}
    else:
        message = _(
            "Only an administrator can change “%(name)s”. Ask them, or create a room of your own in the lobby."
        ) % {"name": room.name}
    return _refusal(request, _("Not your room"), message, status=403)


def _see_other(url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(url, status=303)


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if target and allowed else None


def managers_only(view: RoomView) -> SlugView:
    """Log in, find the room, and let only the people who manage it through."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        room = selectors.get_room(slug)
        if room is None:
            return _no_such_room(request, slug)
        if not services.can_manage(request.user, room):
            return _not_manager(request, room)
        return view(request, room)

    return wrapper


def lobby(request: HttpRequest) -> HttpResponse:
    """Every room with its live count; logged-in people can create one here (POST)."""
    form = RoomCreateForm()
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        form = RoomCreateForm(request.POST)
        created = _create_room(request, form)
        if created is not None:
            return _see_other(created.get_absolute_url())
    page = Paginator(selectors.room_listings(selectors.rooms_for(request.user)), LOBBY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    managed = {listing.room.slug for listing in page if services.can_manage(request.user, listing.room)}
    context = {"listings": page.object_list, "page": page, "managed": managed, "form": form}
    return render(request, "rooms/lobby.html", context)


def _create_room(request: HttpRequest, form: RoomCreateForm) -> Room | None:
    if not form.is_valid():
        return None
    try:
        room = services.create_own_room(cast(User, request.user), **form.cleaned_data)
    except ValidationError as error:
        add_service_errors(form, error)
        return None
    address = request.build_absolute_uri(room.get_absolute_url())
    created = _("Room “%(name)s” created. Share its address to invite people: %(address)s")
    messages.success(request, created % {"name": room.name, "address": address})
    return room


@frameable_by_embedders
def room(request: HttpRequest, slug: str) -> HttpResponse:
    """The call page, once the room admits this user (or invited guest): not locked to them, password given."""
    if "jwt" in request.GET:
        return _enter_with_token(request, slug)
    guest = None if request.user.is_authenticated else invite_services.guest_in(request.session, slug)
    if not request.user.is_authenticated and guest is None:
        return redirect_to_login(request.get_full_path())
    found = selectors.get_room(slug)
    if found is None:
        return _no_such_room(request, slug)
    who = guest or request.user
    if not services.may_enter(who, found):
        return _room_locked(request, found)
    if guest is None and request.method == "POST":
        return _check_password(request, found)
    if guest is None and not services.has_access(request.session, request.user, found):
        return _ask_password(request, found)
    services.remember_member(who, found)
    context = {
        "room": found,
        # Said on the pre-join screen, before any camera starts; the server still decides on Join.
        "room_full": selectors.participant_count(found) >= found.max_participants,
        "can_manage": services.can_manage(who, found),
        "call_config": selectors.call_config(found, who),
    }
    return render(request, "rooms/room.html", context)


def _enter_with_token(request: HttpRequest, slug: str) -> HttpResponse:
    """`?jwt=`: a valid join token makes this session the room's guest (invites/tokens.py), then
    the plain address, so the token stays out of the history and of Referer headers."""
    try:
        invite_services.grant_token(request.session, slug, request.GET["jwt"])
    except invite_services.InviteUnusable as refusal:
        return _refusal(request, refusal.title, refusal.message, refusal.status, refusal.code)
    return _see_other(reverse("room", kwargs={"slug": slug}))


def _check_password(request: HttpRequest, room: Room) -> HttpResponse:
    if services.has_access(request.session, request.user, room):
        return _see_other(room.get_absolute_url())
    form = RoomPasswordForm(request.POST)
    if not form.is_valid():
        return _password_page(request, room, form)
    slot = lockout.take_attempt(request, room)
    if isinstance(slot, int):
        return _too_many_passwords(request, room, slot)
    if services.grant_access(request.session, room, form.cleaned_data["password"]):
        lockout.give_back(slot)
        return _see_other(room.get_absolute_url())
    form.add_error("password", _("Wrong password."))
    return _password_page(request, room, form, status=403)


def _ask_password(request: HttpRequest, room: Room) -> HttpResponse:
    if (wait := lockout.locked_out_for(request, room)) is not None:
        return _too_many_passwords(request, room, wait)
    return _password_page(request, room, RoomPasswordForm())


def _password_page(request: HttpRequest, room: Room, form: RoomPasswordForm, status: int = 200) -> HttpResponse:
    return render(request, "rooms/room_password.html", {"room": room, "form": form}, status=status)


def _too_many_passwords(request: HttpRequest, room: Room, seconds: int) -> HttpResponse:
    message = _(
        "Too many wrong passwords for “%(name)s” came from your network. "
        "Try again %(wait)s, or ask its owner for the password or an invite link."
    ) % {"name": room.name, "wait": wait_sentence(seconds)}
    response = _refusal(request, _("Too many attempts"), message, status=429)
    response["Retry-After"] = str(seconds)
    return response


@managers_only
def room_edit(request: HttpRequest, room: Room) -> HttpResponse:
    """Owners change a room's settings and password."""
    form = RoomEditForm(request.POST or None, room=room)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # the settings and the moderators change together, or neither
                services.update_room(
                    room,
                    password=form.cleaned_data["new_password"] or None,
                    clear_password=form.cleaned_data.get("clear_password", False),
                    **form.room_fields(),
                )
                moderation_services.set_moderators(room, form.moderator_usernames())
        except ValidationError as error:
            room.refresh_from_db()
            add_service_errors(form, error)
        else:
            messages.success(request, _saved_message(form))
            return _see_other(reverse("room-edit", kwargs={"slug": room.slug}))
    return render(request, "rooms/room_form.html", {"room": room, "form": form})


def _saved_message(form: RoomEditForm) -> str:
    if form.cleaned_data["new_password"]:
        return _("Settings saved. The password changed: everyone must enter the new one to join.")
    if form.cleaned_data.get("clear_password"):
        return _("Settings saved. The room no longer needs a password.")
    return _("Settings saved.")


@managers_only
def room_lock(request: HttpRequest, room: Room) -> HttpResponse:
    """POST: lock or unlock (`locked`=1/0; without it, toggle). GET leads to the settings page."""
    if request.method != "POST":
        return redirect("room-edit", slug=room.slug)
    wanted = request.POST.get("locked", "").strip().lower()
    locked = True if wanted in _TRUE else False if wanted in _FALSE else not room.locked
    services.set_locked(room, locked)
    if locked:
        news = _("“%(name)s” is locked: nobody new can join until you unlock it.")
    else:
        news = _("“%(name)s” is unlocked: anyone with access can join again.")
    messages.success(request, news % {"name": room.name})
    return _see_other(_safe_next(request) or reverse("room-edit", kwargs={"slug": room.slug}))


@managers_only
def room_delete(request: HttpRequest, room: Room) -> HttpResponse:
    """GET asks for confirmation; POST deletes the room and disconnects whoever is in it."""
    if request.method != "POST":
        context = {"room": room, "participants": selectors.participant_count(room)}
        return render(request, "rooms/room_confirm_delete.html", context)
    name = room.name
    services.delete_room(room)
    messages.success(request, _("Room “%(name)s” deleted; anyone still in it was disconnected.") % {"name": name})
    return _see_other(reverse("lobby"))
