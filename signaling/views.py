"""HTTP endpoints of the signaling app."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from signaling.ice import ice_servers_for


@require_GET
@never_cache
@login_required
def ice_servers(request: HttpRequest) -> JsonResponse:
    """ICE servers with fresh TURN credentials, for the pre-join network check."""
    return JsonResponse(
        {"ice_servers": ice_servers_for(str(request.user.pk)), "ttl_seconds": settings.TURN_CREDENTIAL_TTL}
    )
