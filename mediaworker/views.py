"""Recording pages: the owner's list, and the files, served only after a permission check."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from mediaworker import selectors
from rooms import selectors as room_selectors
from rooms import services as room_services


@login_required
def room_recordings(request: HttpRequest, slug: str) -> HttpResponse:
    """The owner lists, plays and downloads a room's recordings; anyone else gets a 404."""
    room = room_selectors.get_room(slug)
    if room is None or not room_services.can_manage(request.user, room):
        raise Http404("No such room, or not yours.")
    context = {"room": room, "recordings": selectors.room_recordings(room)}
    return render(request, "mediaworker/recordings.html", context)


@login_required
def recording_file(request: HttpRequest, pk: int) -> FileResponse:
    """The composite file (`?download=1`: as an attachment). 404 for anyone who may not see it,
    so ids cannot be probed."""
    recording = selectors.recording_for(request.user, pk)
    path = selectors.composite_path(recording) if recording is not None else None
    if recording is None or path is None:
        raise Http404("No such recording.")
    download = request.GET.get("download") == "1"
    filename = f"{recording.room.slug}-{recording.started:%Y%m%d-%H%M%S}{path.suffix}"
    return FileResponse(path.open("rb"), as_attachment=download, filename=filename)
