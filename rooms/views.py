from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from rooms import selectors


def lobby(request: HttpRequest) -> HttpResponse:
    return render(request, "rooms/lobby.html", {"listings": selectors.room_listings()})


@login_required
def room(request: HttpRequest, slug: str) -> HttpResponse:
    found = selectors.get_room(slug)
    if found is None:
        raise Http404("No such room")
    return render(request, "rooms/room.html", {"room": found})
