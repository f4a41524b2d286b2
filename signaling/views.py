"""HTTP endpoints of the signaling app."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from signaling.ice import TURN_THROTTLED, ice_servers_for, turn_refusal


@require_GET
@never_cache
@login_required
def ice_servers(request: HttpRequest) -> JsonResponse:
    """ICE servers with fresh TURN credentials, for the pre-join network check.

    Past TURN_CREDENTIALS_PER_HOUR: 429 with `code` and `message`, and STUN servers only."""
    user_key = str(request.user.pk)
    if (refusal := turn_refusal(user_key)) is not None:
        body = {"code": TURN_THROTTLED, "message": refusal, "ice_servers": ice_servers_for(user_key, with_turn=False)}
        return JsonResponse(body, status=429)
    return JsonResponse({"ice_servers": ice_servers_for(user_key), "ttl_seconds": settings.TURN_CREDENTIAL_TTL})
