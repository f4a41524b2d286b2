"""Account pages: sign up and profile. Log in and log out are Django's own views."""

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from accounts import services
from accounts.forms import ProfileForm, SignUpForm
from accounts.models import User
from audioexchange.throttle import usage, wait_sentence


def _next_url(request: HttpRequest) -> str:
    """Where to go after signing up: a safe `next`, else the lobby."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return resolve_url("lobby")


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account, log it in and continue to `next` (or the lobby)."""
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.sign_up(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome, %(name)s! Join a room or create your own.") % {"name": user.public_name}
            )
            return HttpResponseRedirect(_next_url(request), status=303)
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request)})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Change the name others see in calls."""
    user = cast(User, request.user)
    form = ProfileForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_display_name(user, form.cleaned_data["display_name"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("Saved: others now see you as “%(name)s” (from your next call).") % {"name": user.public_name},
            )
            return HttpResponseRedirect(resolve_url("profile"), status=303)
    return render(request, "accounts/profile.html", {"form": form})


def limit_sign_in_posts(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Refuse (429) sign-in form posts past LOGIN_ATTEMPTS_PER_MINUTE per client address.

    /accounts/login/ and /admin/login/ count together: guessing through the other door gains nothing.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            tried = usage(request, "accounts.sign-in", settings.LOGIN_ATTEMPTS_PER_MINUTE, 60, count=True)
            if tried.over:
                return _too_many_sign_ins(request, tried.seconds_left)
        return view(request, *args, **kwargs)

    return wrapper


def _too_many_sign_ins(request: HttpRequest, seconds: int) -> HttpResponse:
    message = _(
        "Too many sign-in attempts came from your network. Try again %(wait)s; "
        "if you forgot your password, ask an administrator to reset it."
    ) % {"wait": wait_sentence(seconds)}
    context = {"title": _("Too many attempts"), "message": message}
    response = render(request, "rooms/room_unavailable.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
