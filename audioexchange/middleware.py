"""A page that says the service is restarting, instead of a 500, while Redis or PostgreSQL is away.

With REDIS_URL the sign-in limits and room-password slots live in Redis, and every page reads
PostgreSQL. When either is restarting, a view raises the client library's connection error;
Django would answer a bare 500. This answers 503 with `Retry-After`, the code the signaling
socket uses for the same outage (`service_restarting`) and a sentence, as the socket does.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from audioexchange.outages import OUTAGES

RETRY_AFTER_SECONDS = 30


class ServiceRestartingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OUTAGES):
            return None
        # No request context: the page must not need the session or the user (the database).
        response = HttpResponse(render_to_string("service_restarting.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
