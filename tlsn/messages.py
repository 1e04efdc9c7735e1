"""Handshake messages (RFC 8446 §4, RFC 5246 §7.4): just enough parsing to check a server's identity.

We parse the ClientHello (client random, SNI), the ServerHello (server random, version, suite),
Certificate, TLS 1.2 ServerKeyExchange and TLS 1.3 CertificateVerify / Finished. Anything we don't
understand is refused rather than skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsn.errors import HandshakeError
from tlsn.records import HANDSHAKE, Record

CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
ENCRYPTED_EXTENSIONS = 8
CERTIFICATE = 11
SERVER_KEY_EXCHANGE = 12
CERTIFICATE_REQUEST = 13
SERVER_HELLO_DONE = 14
CERTIFICATE_VERIFY = 15
FINISHED = 20
KEY_UPDATE = 24

EXT_SERVER_NAME = 0
EXT_ALPN = 16
EXT_PRE_SHARED_KEY = 41
EXT_SUPPORTED_VERSIONS = 43

# SHA-256 of "HelloRetryRequest" (RFC 8446 §4.1.3): the fixed server random of an HRR.
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


@dataclass(frozen=True)
class HandshakeMessage:
    msg_type: int
    body: bytes

    @property
    def raw(self) -> bytes:
        return bytes([self.msg_type]) + len(self.body).to_bytes(3, "big") + self.body


class _Reader:
    """Bounds-checked cursor; any overrun is a malformed handshake."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise HandshakeError("malformed_handshake", f"{self.what}: truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(self.uint(length_bytes))

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


def split_messages(stream: bytes) -> tuple[list[HandshakeMessage], bytes]:
    """Split a reassembled handshake byte stream into messages; return the incomplete tail."""
    out: list[HandshakeMessage] = []
    pos = 0
    while len(stream) - pos >= 4:
        length = int.from_bytes(stream[pos + 1:pos + 4], "big")
        if len(stream) - pos - 4 < length:
            break
        out.append(HandshakeMessage(stream[pos], bytes(stream[pos + 4:pos + 4 + length])))
        pos += 4 + length
    return out, bytes(stream[pos:])


def leading_handshake(records: list[Record]) -> list[HandshakeMessage]:
    """The plaintext handshake messages at the start of one direction (before encryption starts)."""
    stream = bytearray()
    for r in records:
        if r.content_type != HANDSHAKE:
            break
        stream += r.payload
    return split_messages(bytes(stream))[0]


def _extensions(r: _Reader) -> dict[int, bytes]:
    exts: dict[int, bytes] = {}
    if r.remaining == 0:
        return exts
    er = _Reader(r.vector(2), "extensions")
    while er.remaining:
        etype = er.uint(2)
        exts[etype] = er.vector(2)
    return exts


@dataclass(frozen=True)
class ClientHello:
    random: bytes
    server_name: str | None
    extensions: dict[int, bytes]


def parse_client_hello(body: bytes) -> ClientHello:
    r = _Reader(body, "ClientHello")
    r.take(2)
    random = r.take(32)
    r.vector(1)  # legacy session id
    r.vector(2)  # cipher suites
    r.vector(1)  # compression methods
    exts = _extensions(r)
    name = None
    if EXT_SERVER_NAME in exts:
        sr = _Reader(exts[EXT_SERVER_NAME], "server_name")
        lr = _Reader(sr.vector(2), "server_name list")
        while lr.remaining:
            kind = lr.uint(1)
            value = lr.vector(2)
            if kind == 0:
                name = value.decode("ascii", "strict")
    return ClientHello(random, name, exts)


@dataclass(frozen=True)
class ServerHello:
    random: bytes
    legacy_version: int
    version: int  # negotiated (supported_versions wins over legacy_version)
    cipher_suite: int
    extensions: dict[int, bytes]

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM


def parse_server_hello(body: bytes) -> ServerHello:
    r = _Reader(body, "ServerHello")
    legacy_version = r.uint(2)
    random = r.take(32)
    r.vector(1)
    suite = r.uint(2)
    compression = r.uint(1)
    if compression != 0:
        raise HandshakeError("compression_forbidden", "TLS compression is not allowed")
    exts = _extensions(r)
    version = legacy_version
    if EXT_SUPPORTED_VERSIONS in exts:
        version = int.from_bytes(exts[EXT_SUPPORTED_VERSIONS][:2], "big")
    return ServerHello(random, legacy_version, version, suite, exts)


def parse_certificate(body: bytes, tls13: bool) -> list[bytes]:
    """Return the DER certificates of a Certificate message, leaf first."""
    r = _Reader(body, "Certificate")
    if tls13:
        r.vector(1)  # certificate_request_context
    lr = _Reader(r.vector(3), "certificate_list")
    certs: list[bytes] = []
    while lr.remaining:
        certs.append(lr.vector(3))
        if tls13:
            lr.vector(2)  # per-certificate extensions
    if not certs:
        raise HandshakeError("certificate_missing", "server sent an empty certificate list")
    return certs


@dataclass(frozen=True)
class SignedParams:
    """A TLS 1.2 ECDHE ServerKeyExchange: the signed params and the signature over them."""

    params: bytes  # curve_type ‖ named_curve ‖ public point, exactly as signed
    scheme: int
    signature: bytes


def parse_server_key_exchange(body: bytes) -> SignedParams:
    r = _Reader(body, "ServerKeyExchange")
    curve_type = r.uint(1)
    if curve_type != 3:
        raise HandshakeError("unsupported_key_exchange", "only named-curve ECDHE is supported")
    r.uint(2)
    r.vector(1)
    params = body[:r.pos]
    scheme = r.uint(2)
    signature = r.vector(2)
    return SignedParams(params, scheme, signature)


def parse_certificate_verify(body: bytes) -> tuple[int, bytes]:
    r = _Reader(body, "CertificateVerify")
    return r.uint(2), r.vector(2)
