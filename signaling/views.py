"""HTTP endpoints of the signaling app."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from invites.services import GuestRefused
from rooms.models import Room
from signaling.ice import TURN_THROTTLED, ice_servers_for, turn_refusal
from signaling.identity import identify

NOT_IN_ROOM = "not_in_room"


def _ice_user(request: HttpRequest) -> str | None:
    """Whose TURN credentials these are: the signed-in user, or the guest this session is in
    `?room=<slug>` (by an invite or a join token), as the signaling socket names them."""
    if request.user.is_authenticated:
        return str(request.user.pk)
    room = Room.objects.filter(slug=request.GET.get("room", "")).first()
    if room is None:
        return None
    try:
        who = identify(request.session, request.user, room)
    except GuestRefused:
        return None
    return who.ice_user if who else None


@require_GET
@never_cache
def ice_servers(request: HttpRequest) -> JsonResponse:
    """ICE servers with fresh TURN credentials, for the pre-join network check and the mesh's
    credential refresh; signed-in people and the guests of the room in `?room=`.

    Past TURN_CREDENTIALS_PER_HOUR: 429 with `code` and `message`, and STUN servers only.
    Anyone else: 403 with `code` and `message` (a script reads it, so no redirect to a form)."""
    user_key = _ice_user(request)
    if user_key is None:
        message = _("Sign in, or open the room's invite link, to check your connection to this server.")
        return JsonResponse({"code": NOT_IN_ROOM, "message": message}, status=403)
    if (refusal := turn_refusal(user_key)) is not None:
        body = {"code": TURN_THROTTLED, "message": refusal, "ice_servers": ice_servers_for(user_key, with_turn=False)}
        return JsonResponse(body, status=429)
    return JsonResponse({"ice_servers": ice_servers_for(user_key), "ttl_seconds": settings.TURN_CREDENTIAL_TTL})
