"""Short-lived signed download URLs for recordings (django.core.signing, with a timestamp).

Its own module, free of other imports, because webhooks (`recording.ready`) need it where
signaling and the media worker call, and the API's services import signaling."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "api.recording-download"


class DownloadRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def download_token(recording_id: int) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(str(recording_id))


def download_path(recording_id: int) -> str:
    """The file's URL path with a fresh token, valid API_DOWNLOAD_URL_SECONDS."""
    path = reverse("api:recording_file", kwargs={"recording_id": recording_id})
    return f"{path}?token={download_token(recording_id)}"


def check_download_token(recording_id: int, token: str) -> None:
    """Raise `DownloadRefused` unless `token` was made for this recording within API_DOWNLOAD_URL_SECONDS."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.API_DOWNLOAD_URL_SECONDS)
    except signing.SignatureExpired:
        raise DownloadRefused(
            410, "download_expired", "This download link has expired; ask the API for the recording again."
        ) from None
    except signing.BadSignature:
        raise DownloadRefused(
            403, "download_bad_signature", "This download link is not valid; ask the API for a new one."
        ) from None
    if value != str(recording_id):
        raise DownloadRefused(403, "download_bad_signature", "This download link is for another recording.")
