"""A minimal TURN client (RFC 5389 STUN, RFC 5766 TURN, RFC 6156 IPv6), enough to ask coturn
for an allocation and a permission and read the exact answer: success, 401, 403, 438...

Long-term credentials: the first request goes without them and collects REALM and NONCE
from the 401; later requests carry USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed
with MD5(username:realm:password). Runs over UDP or TLS; one client is one 5-tuple, so
one allocation.
"""

import hashlib
import hmac
import ipaddress
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field

MAGIC_COOKIE = 0x2112A442
BINDING = 0x0001
ALLOCATE = 0x0003
REFRESH = 0x0004
CREATE_PERMISSION = 0x0008
SEND_INDICATION = 0x0016
DATA_INDICATION = 0x0017
CLASS_MASK = 0x0110
SUCCESS = 0x0100

USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_ADDRESS_FAMILY = 0x0017
REQUESTED_TRANSPORT = 0x0019

FAMILY_IPV4 = 0x01
FAMILY_IPV6 = 0x02
UDP_PROTOCOL = 17


@dataclass
class Response:
    """One decoded message: its type (method and class), error code and attributes."""

    kind: int
    attributes: dict[int, bytes] = field(default_factory=dict)
    transaction_id: bytes = b""

    @property
    def method(self) -> int:
        return self.kind & ~CLASS_MASK

    @property
    def success(self) -> bool:
        return self.kind & CLASS_MASK == SUCCESS

    @property
    def error_code(self) -> int | None:
        value = self.attributes.get(ERROR_CODE)
        if value is None:
            return None
        return (value[2] & 0x07) * 100 + value[3]

    @property
    def reason(self) -> str:
        value = self.attributes.get(ERROR_CODE, b"\0\0\0\0")
        return value[4:].decode(errors="replace")

    def xor_address(self, attribute: int) -> tuple[str, int]:
        return decode_xor_address(self.attributes[attribute], self.transaction_id)

    def __str__(self) -> str:
        if self.success:
            return f"success (method {self.method:#06x})"
        return f"error {self.error_code} {self.reason!r} (method {self.method:#06x})"


def encode_attribute(kind: int, value: bytes) -> bytes:
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def encode_xor_address(ip: str, port: int, transaction_id: bytes) -> bytes:
    address = ipaddress.ip_address(ip)
    cookie = struct.pack("!I", MAGIC_COOKIE)
    mask = cookie if address.version == 4 else cookie + transaction_id
    raw = bytes(a ^ b for a, b in zip(address.packed, mask, strict=True))
    family = FAMILY_IPV4 if address.version == 4 else FAMILY_IPV6
    return struct.pack("!BBH", 0, family, port ^ (MAGIC_COOKIE >> 16)) + raw


def decode_xor_address(value: bytes, transaction_id: bytes) -> tuple[str, int]:
    family, xport = struct.unpack("!xBH", value[:4])
    cookie = struct.pack("!I", MAGIC_COOKIE)
    mask = cookie if family == FAMILY_IPV4 else cookie + transaction_id
    raw = bytes(a ^ b for a, b in zip(value[4:], mask, strict=True))
    return str(ipaddress.ip_address(raw)), xport ^ (MAGIC_COOKIE >> 16)


def encode_message(method: int, transaction_id: bytes, attributes: list[bytes], key: bytes | None = None) -> bytes:
    """A request; with `key`, MESSAGE-INTEGRITY is computed over everything before it."""
    body = b"".join(attributes)
    if key is None:
        return struct.pack("!HHI", method, len(body), MAGIC_COOKIE) + transaction_id + body
    # The length in the header covers MESSAGE-INTEGRITY (24 bytes) when the HMAC is taken.
    header = struct.pack("!HHI", method, len(body) + 24, MAGIC_COOKIE) + transaction_id
    digest = hmac.new(key, header + body, hashlib.sha1).digest()
    return header + body + encode_attribute(MESSAGE_INTEGRITY, digest)


def decode_message(data: bytes) -> Response:
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE:
        raise ValueError("not a STUN message")
    transaction_id = data[8:20]
    attributes: dict[int, bytes] = {}
    offset = 20
    while offset < 20 + length:
        attribute, size = struct.unpack("!HH", data[offset : offset + 4])
        attributes.setdefault(attribute, data[offset + 4 : offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return Response(kind, attributes, transaction_id)


class TurnClient:
    """One client transport (UDP or TLS) to one TURN server, holding at most one allocation."""

    def __init__(self, host: str, port: int, *, tls_context: ssl.SSLContext | None = None, timeout: float = 3) -> None:
        self.server = (host, port)
        self.timeout = timeout
        self.stream = tls_context is not None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if tls_context is None:
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
        else:
            raw = socket.create_connection(self.server, timeout=timeout)
            self.sock = tls_context.wrap_socket(raw, server_hostname=host)
        self.sock.settimeout(timeout)
        self.username = ""
        self.realm = b""
        self.nonce = b""
        self.key = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "TurnClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Transport --------------------------------------------------------------------------

    def request(
        self, method: int, attributes: list[bytes], *, authenticated: bool = True, transaction_id: bytes = b""
    ) -> Response:
        transaction_id = transaction_id or os.urandom(12)
        if authenticated:
            attributes = [
                *attributes,
                encode_attribute(USERNAME, self.username.encode()),
                encode_attribute(REALM, self.realm),
                encode_attribute(NONCE, self.nonce),
            ]
        message = encode_message(method, transaction_id, attributes, self.key if authenticated else None)
        return self._exchange(message, transaction_id)

    def _exchange(self, message: bytes, transaction_id: bytes) -> Response:
        attempts = 1 if self.stream else 4
        for _ in range(attempts):
            self.sock.sendall(message) if self.stream else self.sock.sendto(message, self.server)
            try:
                while True:
                    response = decode_message(self._receive())
                    if response.transaction_id == transaction_id:
                        return response
            except TimeoutError:
                continue
        raise TimeoutError(f"no answer from TURN server {self.server}")

    def _receive(self) -> bytes:
        if not self.stream:
            data, _ = self.sock.recvfrom(65536)
            return data
        header = self._read_exactly(20)
        (length,) = struct.unpack("!H", header[2:4])
        return header + self._read_exactly(length)

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("TURN server closed the connection")
            data += chunk
        return data

    # STUN and TURN ------------------------------------------------------------------------

    def binding(self) -> Response:
        """A plain STUN Binding request: answers as soon as the server listens."""
        return self.request(BINDING, [], authenticated=False)

    def allocate(self, username: str, password: str, family: int = FAMILY_IPV4) -> Response:
        """Ask for a UDP relay; the first, unauthenticated try yields the realm and nonce."""
        attributes = [encode_attribute(REQUESTED_TRANSPORT, bytes([UDP_PROTOCOL, 0, 0, 0]))]
        if family != FAMILY_IPV4:
            attributes.append(encode_attribute(REQUESTED_ADDRESS_FAMILY, bytes([family, 0, 0, 0])))
        challenge = self.request(ALLOCATE, attributes, authenticated=False)
        if challenge.error_code != 401:
            raise AssertionError(f"expected a 401 challenge, got {challenge}")
        self.username = username
        self.realm = challenge.attributes[REALM]
        self.nonce = challenge.attributes[NONCE]
        self.key = hashlib.md5(f"{username}:{self.realm.decode()}:{password}".encode()).digest()  # noqa: S324 - RFC 5389
        return self.request(ALLOCATE, attributes)

    def create_permission(self, peer_ip: str) -> Response:
        """Allow the relay to exchange data with `peer_ip` (no packet is sent to it)."""
        # An IPv6 XOR-PEER-ADDRESS is masked with the transaction id: choose it first.
        transaction_id = os.urandom(12)
        peer = encode_attribute(XOR_PEER_ADDRESS, encode_xor_address(peer_ip, 0, transaction_id))
        return self.request(CREATE_PERMISSION, [peer], transaction_id=transaction_id)

    def send(self, peer_ip: str, peer_port: int, data: bytes) -> None:
        """Relay `data` to a peer through the allocation (a Send indication: no answer)."""
        transaction_id = os.urandom(12)
        attributes = [
            encode_attribute(XOR_PEER_ADDRESS, encode_xor_address(peer_ip, peer_port, transaction_id)),
            encode_attribute(DATA, data),
        ]
        self.sock.sendto(encode_message(SEND_INDICATION, transaction_id, attributes), self.server)

    def receive_data(self) -> tuple[tuple[str, int], bytes]:
        """The next Data indication: (peer address, payload) a peer sent to the relay."""
        while True:
            message = decode_message(self._receive())
            if message.kind == DATA_INDICATION:
                return message.xor_address(XOR_PEER_ADDRESS), message.attributes[DATA]

    def release(self) -> Response:
        """Delete the allocation (a Refresh with lifetime 0)."""
        return self.request(REFRESH, [encode_attribute(LIFETIME, struct.pack("!I", 0))])
