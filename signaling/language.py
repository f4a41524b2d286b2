"""The language a room socket speaks: its refusal and notice sentences are translated into it.

Chosen as LocaleMiddleware chooses a page's: the language switch's cookie, then the handshake's
Accept-Language, then LANGUAGE_CODE. Sentences are written in English (the msgid) and
translated where they are rendered for one connection, under `translation.override`; the
machine `code` beside them never changes (docs/protocol.md).
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header


def connection_language(scope: Mapping[str, Any]) -> str:
    """The language of the socket whose ASGI `scope` this is (a code from LANGUAGES)."""
    headers = dict(scope.get("headers", ()))
    for wanted in (_cookie_language(headers.get(b"cookie", b"")), *_accepted(headers.get(b"accept-language", b""))):
        if wanted and (supported := _supported(wanted)):
            return supported
    return str(settings.LANGUAGE_CODE)


def _cookie_language(header: bytes) -> str:
    return parse_cookie(header.decode("latin-1")).get(settings.LANGUAGE_COOKIE_NAME, "")


def _accepted(header: bytes) -> Iterable[str]:
    """Accept-Language's languages, most wanted first ("*" left out)."""
    return (code for code, _quality in parse_accept_lang_header(header.decode("latin-1")) if code != "*")


def _supported(code: str) -> str:
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return ""
