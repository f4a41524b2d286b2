"""Just enough HTTP(S) and WebSocket client, from the standard library, to talk to the app
through nginx the way a browser does: cookies, CSRF form posts, and a `wss://` socket.
"""

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import struct
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


@dataclass
class Session:
    """One browser: a base URL, a cookie jar, and optionally a source address to come from."""

    base_url: str
    tls: ssl.SSLContext | None = None
    source_ip: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None, extra_headers: dict[str, str] | None = None
    ) -> Reply:
        parts = urlsplit(self.base_url)
        source = (self.source_ip, 0) if self.source_ip else None
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.netloc, timeout=10, context=self.tls, source_address=source)
        else:
            connection = http.client.HTTPConnection(parts.netloc, timeout=10, source_address=source)
        headers = {"Origin": self.origin, "Referer": self.origin + path, **(extra_headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
        encoded = None
        if body is not None:
            encoded = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=encoded, headers=headers)
            response = connection.getresponse()
            reply = Reply(response.status, response.msg, response.read())
        finally:
            connection.close()
        for value in reply.header_values("Set-Cookie"):
            for key, morsel in SimpleCookie(value).items():
                self.cookies[key] = morsel.value
        return reply

    def log_in(self, username: str, password: str) -> None:
        """Log in through the login form, CSRF token and all; raise unless it worked."""
        form = self.request("GET", "/accounts/login/")
        assert form.status == 200, form.status
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
        assert match, "no CSRF token in the login form"
        token = match.group(1).decode()
        reply = self.request(
            "POST", "/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token}
        )
        assert reply.status == 302 and "sessionid" in self.cookies, (reply.status, reply.body[:500])

    def websocket(self, path: str, *, base_url: str | None = None, origin: str | None = None) -> "WebSocket":
        """Open a socket to `base_url` (default: ours) with this session's cookies, as a page
        of `origin` (default: the server's own) would."""
        base = urlsplit(base_url or self.base_url)
        scheme = "wss" if base.scheme == "https" else "ws"
        cookie = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
        headers = {"Cookie": cookie, "Origin": origin or f"{base.scheme}://{base.netloc}"}
        return WebSocket(f"{scheme}://{base.netloc}{path}", headers, self.tls, source_ip=self.source_ip)


class HandshakeRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"WebSocket handshake refused with HTTP {status}")
        self.status = status


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"WebSocket closed with code {code}")
        self.code = code


class WebSocket:
    """A client WebSocket (RFC 6455): text frames in and out, pings answered."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        tls: ssl.SSLContext | None = None,
        timeout: float = 5,
        source_ip: str | None = None,
    ):
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80)
        source = (source_ip, 0) if source_ip else None
        raw = socket.create_connection((host, port), timeout=timeout, source_address=source)
        self.sock = tls.wrap_socket(raw, server_hostname=host) if parts.scheme == "wss" and tls else raw
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buffer = b""
        head = self._read_until(b"\r\n\r\n").decode(errors="replace")
        status = int(head.split(" ", 2)[1])
        if status != 101:
            self.sock.close()
            raise HandshakeRefused(status)
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
        assert f"sec-websocket-accept: {accept.lower()}" in head.lower(), head

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed(None)
        self._buffer += chunk

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        """(final fragment, opcode, payload) of the next frame; servers do not mask."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return bool(first & 0x80), first & 0x0F, self._read(length)

    def send_json(self, message: dict[str, Any]) -> None:
        self.send_text(json.dumps(message))

    def send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def receive_json(self) -> dict[str, Any]:
        """The next text message (continuations joined); raise Closed on a close frame."""
        parts: list[bytes] = []
        while True:
            final, opcode, payload = self._read_frame()
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(code)
            if opcode == 0x9:
                self._send_frame(0xA, payload)
            elif opcode in (0x0, 0x1):
                parts.append(payload)
                if final:
                    return json.loads(b"".join(parts))  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, struct.pack("!H", 1000))
        self.sock.close()

    def __enter__(self) -> "WebSocket":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
