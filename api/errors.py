"""Every API refusal: an HTTP status, a `code` a program can test and a `message` a person can act on."""

from typing import Any


class ApiError(Exception):
    """Rendered as `{"code": ..., "message": ...}` (plus `errors` for invalid fields) with `status`."""

    def __init__(self, status: int, code: str, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def no_such_room(slug: str) -> ApiError:
    # The same answer for a room that exists but is not the key's, so slugs cannot be probed.
    return ApiError(404, "room_not_found", f"No room {slug!r} that this key may manage; check the slug.")
