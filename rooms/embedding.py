"""The call page inside other sites' <iframe>s (docs/embedding.md).

Every page refuses to be framed (`frame-ancestors 'none'`, `X-Frame-Options: DENY`). The room
page, and only it, may be framed by the pages of EMBED_ALLOWED_ORIGINS: its policy lists them
instead, and it carries no X-Frame-Options (which can only say DENY or SAMEORIGIN, and which
browsers would otherwise apply beside the policy). Its refusals (an expired join token, a
locked room) are framed too, so the embedding page shows why rather than a broken frame; the
login page and the rest stay unframeable.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SlugView = Callable[[HttpRequest, str], HttpResponse]


def frameable_by_embedders(view: SlugView) -> SlugView:
    """Let the pages of EMBED_ALLOWED_ORIGINS (read per request) frame `view`'s responses."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        response = view(request, slug)
        origins = list(settings.EMBED_ALLOWED_ORIGINS)
        if origins:
            # Read by django-csp's middleware and by Django's XFrameOptionsMiddleware.
            response._csp_replace = {"frame-ancestors": origins}  # type: ignore[attr-defined]
            response.xframe_options_exempt = True  # type: ignore[attr-defined]
        return response

    return wrapper
