"""ASGI entry point: pages, static files and WebSockets from one application.

Run with `daphne audioexchange.asgi:application` (see Procfile).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audioexchange.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from signaling.auth import SessionAuthMiddlewareStack  # noqa: E402 - needs Django set up first
from signaling.daphne_compat import (  # noqa: E402
    allow_server_close_codes,
    format_debug_lines_lazily,
    queue_events_in_inboxes,
)
from signaling.routing import websocket_urlpatterns  # noqa: E402

allow_server_close_codes()
format_debug_lines_lazily()
queue_events_in_inboxes()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # SIGNALING_ALLOWED_ORIGINS (default: ALLOWED_HOSTS): another site's page cannot use a visitor's cookie.
        "websocket": OriginValidator(
            SessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns)), settings.SIGNALING_ALLOWED_ORIGINS
        ),
    }
)
