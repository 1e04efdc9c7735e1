"""The prover: a real TLS client whose bytes travel through a relay, and what it keeps afterwards.

The TLS work is done by the stdlib ``ssl`` module over ``MemoryBIO`` so the relay transport can carry
the bytes. ALPN is ``http/1.1`` only, no session is resumed, and the request asks for
``Accept-Encoding: identity`` — each of these would otherwise break what the MPC can check (see the
design notes). After the response is read, the prover derives the server write key and IV from the
context's key log, re-opens its own copy of the response records with ``cryptography``'s AESGCM (a
self-check of the derivation: it must reproduce exactly what ``ssl`` returned), skips TLS 1.3
NewSessionTicket records, and locates the fields: which record, which byte offsets, which AES-CTR
blocks. The result, :class:`ProverSession`, holds secrets and plaintext: it never leaves the
provider's machine except as the key shares and public record material the later steps send.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from tlsn import keys as keylib
from tlsn import messages as msg
from tlsn.aead import SealedRecord, open_record, open_tls13_inner, seal_parts
from tlsn.attestation import RecordClaim
from tlsn.errors import HandshakeError, ProverError, RecordError, UnsupportedCipherError
from tlsn.handshake import open_tls13_handshake
from tlsn.openssl_pin import pin_tls13_suites
from tlsn.records import APPLICATION_DATA, C2S, HANDSHAKE, S2C, Record, assign_sequence_numbers, parse_records
from tlsn.spec import Credentials, SourceSpec
from tlsn.suites import (TLS12, TLS12_AES128_CIPHER_STRING, TLS12_CIPHER_STRING, TLS13, CipherSuite,
                         suite_by_name)
from tlsn.transport import RelayTransport

BLOCK = 16
# AES-GCM encrypts plaintext block i (0-based) with counter J0 + 1 + i, and J0 = nonce ‖ 1.
FIRST_DATA_COUNTER = 2
MAX_RESPONSE = 1 << 20


@dataclass(frozen=True)
class FieldLocation:
    """Where a proven value sits: record ``record`` (index into ``ProverSession.records``).

    ``offset``/``length`` locate the value in that record's plaintext; ``span_offset``/``span_length``
    cover prefix ‖ value ‖ suffix (the template bytes the MPC checks). ``blocks`` are the 0-based
    16-byte plaintext blocks covering the span; block b is encrypted with counter ``b + 2``.
    """

    name: str
    value: str
    record: int
    offset: int
    length: int
    span_offset: int
    span_length: int
    blocks: list[int]

    @property
    def counters(self) -> list[int]:
        return [b + FIRST_DATA_COUNTER for b in self.blocks]


@dataclass(frozen=True)
class ResponseRecord:
    """Public material of one server application-data record carrying the response.

    ``index`` is the record's position among all server→client records (as in the attestation);
    ``seq`` its TLS sequence number. ``ciphertext`` excludes the explicit nonce (TLS 1.2) and the tag.
    ``stream_offset`` is where its plaintext starts in the HTTP response.
    """

    index: int
    seq: int
    header: bytes
    payload: bytes  # exactly as on the wire (what the attestation digests)
    ciphertext: bytes
    tag: bytes
    nonce: bytes
    aad: bytes
    stream_offset: int
    plaintext_length: int


@dataclass
class ProverSession:
    """Everything the later steps need from one notarized request. PRIVATE: keys and plaintext."""

    server_name: str
    tls_version: str
    cipher_suite: str
    cipher_suite_id: int
    key_length: int
    client_random: bytes
    server_random: bytes
    server_write_key: bytes
    server_write_iv: bytes  # TLS 1.2: 4-byte salt; TLS 1.3: 12-byte IV
    server_handshake_traffic_secret: bytes | None  # TLS 1.3 only; the notary needs it
    records: list[ResponseRecord]
    fields: dict[str, FieldLocation]
    uid: str
    balance: str
    status_code: int
    plaintext: bytes  # the full HTTP response
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    #: TLS 1.3: the NewSessionTicket records the server sent before the response (public).
    tickets: list[ResponseRecord] = field(default_factory=list)
    #: The client's one application-data record (the request) and its key: the request is
    #: bound inside MPC. ``request`` is its plaintext (PRIVATE: it holds the API key).
    client_write_key: bytes = b""
    client_write_iv: bytes = b""
    request_record: ResponseRecord | None = None
    request: bytes = b""

    def stream_offset(self, name: str) -> int:
        """Where field ``name``'s value starts in the response (the records' contents in order)."""
        loc = self.fields[name]
        return self.records[loc.record].stream_offset + loc.offset

    def to_json(self) -> str:
        return json.dumps(_encode(asdict(self)), sort_keys=True, indent=1)

    def record_claims(self) -> list[RecordClaim]:
        """The response records as claims to check against the attestation (:func:`verify_attestation`)."""
        return [RecordClaim(S2C, r.index, r.seq, r.header, r.payload) for r in self.records]

    def public_material(self) -> dict[str, Any]:
        """What registration may reveal: record ciphertexts, nonces, AADs, field positions, the uid.

        Leaves out the key, IV, handshake secret, the plaintext and the balance value.
        """
        return {
            "server_name": self.server_name, "tls_version": self.tls_version, "cipher_suite": self.cipher_suite,
            "cipher_suite_id": self.cipher_suite_id, "key_length": self.key_length,
            "client_random": self.client_random.hex(), "server_random": self.server_random.hex(),
            "records": [_encode(asdict(r)) for r in self.records],
            "fields": {name: {k: v for k, v in asdict(loc).items() if k != "value"}
                       for name, loc in self.fields.items()},
            "uid": self.uid,
        }

    @classmethod
    def from_json(cls, text: str) -> ProverSession:
        raw = json.loads(text)
        data = {f.name: raw[f.name] for f in fields(cls) if f.name in raw}
        for name in ("client_random", "server_random", "server_write_key", "server_write_iv",
                     "plaintext", "client_write_key", "client_write_iv", "request"):
            if name in data:
                data[name] = bytes.fromhex(data[name])
        if data.get("request_record") is not None:
            data["request_record"] = ResponseRecord(**{k: bytes.fromhex(v) if k in _RECORD_BYTES else v
                                                       for k, v in data["request_record"].items()})
        if data.get("server_handshake_traffic_secret") is not None:
            data["server_handshake_traffic_secret"] = bytes.fromhex(data["server_handshake_traffic_secret"])
        for key in ("records", "tickets"):
            data[key] = [ResponseRecord(**{k: bytes.fromhex(v) if k in _RECORD_BYTES else v
                                           for k, v in r.items()}) for r in data.get(key, [])]
        data["fields"] = {k: FieldLocation(**v) for k, v in data["fields"].items()}
        return cls(**data)


_RECORD_BYTES = {"header", "payload", "ciphertext", "tag", "nonce", "aad"}


def _encode(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode(v) for v in obj]
    return obj


def client_context(*, cafile: str | None = None, cadata: str | None = None,
                   max_version: str | None = None, verify: bool = True,
                   aes128_only: bool = False) -> ssl.SSLContext:
    """A TLS client context that only offers what we can notarize.

    TLS 1.2 is limited to ECDHE + AES-GCM by ``set_ciphers``. TLS 1.3 suites cannot be restricted
    through Python's API, so by default a ChaCha20 choice is caught after the handshake (before any
    request is sent). ``aes128_only`` offers only AES-128-GCM in both versions (TLS 1.3 via
    :mod:`tlsn.openssl_pin`), which keeps the MPC verification on AES-128.
    ``verify=False`` exists for tests that play a careless prover; the notary checks regardless.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if max_version == TLS12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif max_version not in (None, TLS13):
        raise ValueError(f"unknown TLS version {max_version}")
    ctx.set_ciphers(TLS12_AES128_CIPHER_STRING if aes128_only else TLS12_CIPHER_STRING)
    if aes128_only and max_version != TLS12:
        pin_tls13_suites(ctx, ["TLS_AES_128_GCM_SHA256"])
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_TICKET | ssl.OP_NO_COMPRESSION
    if verify:
        if cafile or cadata:
            ctx.load_verify_locations(cafile=cafile, cadata=cadata)
        else:
            ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _TLSPipe:
    """Drives an ``SSLObject`` over a relay transport and keeps a copy of every byte."""

    def __init__(self, obj: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                 transport: RelayTransport, deadline: float) -> None:
        self.obj, self.incoming, self.outgoing = obj, incoming, outgoing
        self.transport, self.deadline = transport, deadline
        self.c2s, self.s2c = bytearray(), bytearray()
        self.closed = False

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.c2s += data
            self.transport.send(data)

    def pull(self) -> bool:
        """Feed the next bytes from the server; False once it has closed."""
        self.flush()
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ProverError("timeout", "the server did not answer in time")
        try:
            data = self.transport.recv(remaining)
        except TimeoutError:
            raise ProverError("timeout", "the server did not answer in time") from None
        if not data:
            self.incoming.write_eof()
            self.closed = True
            return False
        self.s2c += data
        self.incoming.write(data)
        return True

    def handshake(self) -> None:
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if not self.pull():
                    raise ProverError("connection_closed", "connection closed during the handshake") from None
            except ssl.SSLError as exc:
                raise ProverError("tls_handshake_failed", f"TLS handshake failed: {exc}") from exc
        self.flush()

    def read_response(self, limit: int) -> bytes:
        buf = bytearray()
        while not _response_complete(buf):
            if len(buf) > limit:
                raise ProverError("response_too_large", f"response exceeds {limit} bytes")
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    break
                buf += chunk
            except ssl.SSLWantReadError:
                if self.closed or not self.pull():
                    break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
        parts = _split_head(bytes(buf))
        framed = parts is not None and ("content-length" in _headers(parts[0])
                                        or "transfer-encoding" in _headers(parts[0]))
        if parts is None or (framed and not _response_complete(buf)):
            raise ProverError("truncated_response", "the connection ended before the full HTTP response")
        return bytes(buf)


def _split_head(buf: bytes) -> tuple[bytes, bytes] | None:
    end = buf.find(b"\r\n\r\n")
    return None if end < 0 else (buf[:end], buf[end + 4:])


def _headers(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        out[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return out


def check_http_response(response: bytes) -> int:
    """Status code of a complete HTTP/1.1 response; refuse encodings the MPC cannot read.

    A compressed body (``Content-Encoding`` other than identity) would hide the fields from the
    template checks, so it is an error even though we asked for ``Accept-Encoding: identity``.
    """
    parts = _split_head(response)
    if parts is None or not response.startswith(b"HTTP/1.1 "):
        raise ProverError("malformed_response", "the server's answer is not an HTTP/1.1 response")
    head = parts[0]
    encoding = _headers(head).get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ProverError("compressed_body", f"the server sent a {encoding}-encoded body")
    status = head.split(b"\r\n", 1)[0].split(b" ")
    return int(status[1]) if len(status) > 1 and status[1].isdigit() else 0


def _response_complete(buf: bytes) -> bool:
    parts = _split_head(bytes(buf))
    if parts is None:
        return False
    head, body = parts
    headers = _headers(head)
    if "content-length" in headers:
        return len(body) >= int(headers["content-length"])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return body.endswith(b"0\r\n\r\n")
    return False  # read until the server closes


@dataclass(frozen=True)
class _Opened:
    record: Record
    sealed: SealedRecord
    plaintext: bytes


def _open_tls12(s2c: list[Record], keys: keylib.ServerWriteKeys) -> list[_Opened]:
    out: list[_Opened] = []
    for r in assign_sequence_numbers(s2c, TLS12, 0):
        if r.seq is None or r.content_type != APPLICATION_DATA:
            continue
        assert r.seq is not None
        sealed = seal_parts(r, r.seq, TLS12, keys.iv)
        out.append(_Opened(r, sealed, open_record(keys.key, sealed)))
    return out


def _open_tls13(s2c: list[Record], suite: CipherSuite, hs_secret: bytes, app_secret: bytes,
                tickets: list[_Opened] | None = None) -> list[_Opened]:
    """Open the server's TLS 1.3 records: count the handshake epoch, then keep application data only.

    The NewSessionTicket records that come before the response go to ``tickets``: the
    registration names them (their inner type is checked inside MPC) so that the response is
    provably the first application data under the application keys. A padded record is refused
    (positions in the response would no longer follow from the record lengths)."""
    try:
        _, n_hs = open_tls13_handshake(s2c, keylib.tls13_traffic_keys(hs_secret, suite))
    except HandshakeError as exc:
        raise ProverError(exc.reason, exc.message) from None
    encrypted = [r for r in s2c if r.content_type == APPLICATION_DATA]
    app = keylib.tls13_traffic_keys(app_secret, suite)
    out: list[_Opened] = []
    for seq, r in enumerate(encrypted[n_hs:]):
        sealed = seal_parts(r, seq, TLS13, app.iv)
        inner_type, content = open_tls13_inner(app.key, sealed)
        if inner_type in (HANDSHAKE, APPLICATION_DATA) and len(content) != len(sealed.ciphertext) - 1:
            raise ProverError("padded_record", "the server padded a TLS 1.3 record; this is not supported")
        if inner_type == HANDSHAKE:
            types = {m.msg_type for m in msg.split_messages(content)[0]}
            if msg.KEY_UPDATE in types:
                raise ProverError("key_update_unsupported", "server sent KeyUpdate")
            if tickets is not None and not out:
                record = Record(r.direction, r.index, r.content_type, r.version, r.payload, "application", seq)
                tickets.append(_Opened(record, sealed, b""))
            continue  # NewSessionTicket: counts for seq, carries no response bytes
        if inner_type != APPLICATION_DATA:
            break  # alert (close_notify): the response is over
        record = Record(r.direction, r.index, r.content_type, r.version, r.payload, "application", seq)
        # TLS 1.3 plaintext = content ‖ inner type (‖ padding): field offsets index into ``content``.
        out.append(_Opened(record, sealed, content))
    return out


def _open_tls13_client(c2s: list[Record], keys: keylib.ServerWriteKeys) -> list[_Opened]:
    """The client's TLS 1.3 application records (after its Finished, the one handshake-epoch
    record without client authentication)."""
    encrypted = [r for r in c2s if r.content_type == APPLICATION_DATA]
    out: list[_Opened] = []
    for seq, r in enumerate(encrypted[1:]):
        sealed = seal_parts(r, seq, TLS13, keys.iv)
        inner_type, content = open_tls13_inner(keys.key, sealed)
        if inner_type != APPLICATION_DATA:
            continue
        if len(content) != len(sealed.ciphertext) - 1:
            raise ProverError("padded_record", "a padded request record is not supported")
        record = Record(r.direction, r.index, r.content_type, r.version, r.payload, "application", seq)
        out.append(_Opened(record, sealed, content))
    return out


def _locate(spec: SourceSpec, stream: bytes, opened: list[_Opened]) -> dict[str, FieldLocation]:
    starts: list[int] = []
    pos = 0
    for o in opened:
        starts.append(pos)
        pos += len(o.plaintext)
    body_start = stream.find(b"\r\n\r\n") + 4
    out: dict[str, FieldLocation] = {}
    for name, f in spec.fields.items():
        matches = list(f.regex().finditer(stream, body_start))
        if not matches and f.optional:
            continue  # a missing value: the response lacks this field
        if len(matches) != 1:
            raise ProverError("field_not_found" if not matches else "field_not_unique",
                              f"field {name}: {len(matches)} matches of its template in the response")
        m = matches[0]
        span_start, span_end = m.start(), m.end()
        # A field may cross a record boundary: the verification works on the response stream.
        rec = max(i for i, s in enumerate(starts) if s <= span_start)
        base = starts[rec]
        out[name] = FieldLocation(
            name=name, value=m.group(1).decode("ascii"), record=rec,
            offset=m.start(1) - base, length=m.end(1) - m.start(1),
            span_offset=span_start - base, span_length=span_end - span_start,
            blocks=list(range((span_start - base) // BLOCK, (span_end - base - 1) // BLOCK + 1)))
    return out


def prove(transport: RelayTransport, spec: SourceSpec, credentials: Credentials, *,
          context: ssl.SSLContext | None = None, server_name: str | None = None,
          timeout: float = 15.0, max_response: int = MAX_RESPONSE,
          timestamp_ms: int | None = None) -> ProverSession:
    """Run one request through ``transport`` and return the private session data.

    ``context`` defaults to :func:`client_context` with the system trust store; its key log is
    pointed at a private temporary file for the duration of the call. The transport is closed.
    """
    started = time.monotonic()
    server_name = server_name or spec.host
    ctx = context or client_context()
    with tempfile.TemporaryDirectory(prefix="tlsn-") as tmp:
        keylog_path = Path(tmp) / "keylog"
        keylog_path.touch(mode=0o600)
        ctx.keylog_filename = str(keylog_path)
        try:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
            pipe = _TLSPipe(obj, incoming, outgoing, transport, started + timeout)
            try:
                pipe.handshake()
                version = obj.version()
                cipher = obj.cipher()
                if version not in (TLS12, TLS13) or cipher is None:
                    raise UnsupportedCipherError("unsupported_version", f"negotiated {version}")
                suite = suite_by_name(cipher[0])  # ChaCha20 etc. refused before the request
                alpn = obj.selected_alpn_protocol()
                if alpn not in (None, "http/1.1"):
                    raise ProverError("alpn_forbidden", f"server chose ALPN {alpn}")
                if obj.session_reused:
                    raise ProverError("resumption_forbidden", "session was resumed")
                obj.write(spec.build_request(credentials, host=server_name, timestamp_ms=timestamp_ms))
                pipe.flush()
                response = pipe.read_response(max_response)
            finally:
                transport.close()
            keylog = keylib.parse_keylog(keylog_path.read_text())
        finally:
            ctx.keylog_filename = None  # type: ignore[assignment]
    return _analyse(spec, server_name, suite, pipe, response, keylog, started)


def _analyse(spec: SourceSpec, server_name: str, suite: CipherSuite, pipe: _TLSPipe, response: bytes,
             keylog: dict[bytes, dict[str, bytes]], started: float) -> ProverSession:
    try:
        c2s, _ = parse_records(bytes(pipe.c2s), C2S, allow_partial=True)
        s2c, _ = parse_records(bytes(pipe.s2c), S2C, allow_partial=True)
    except RecordError as exc:
        raise ProverError("malformed_transcript", str(exc)) from exc
    ch = msg.parse_client_hello(msg.leading_handshake(c2s)[0].body)
    sh = msg.parse_server_hello(msg.leading_handshake(s2c)[0].body)
    hs_secret: bytes | None = None
    tickets: list[_Opened] = []
    try:
        if suite.version == TLS12:
            master = keylib.keylog_secret(keylog, ch.random, "CLIENT_RANDOM")
            keys = keylib.tls12_server_write_keys(master, ch.random, sh.random, suite)
            opened = _open_tls12(s2c, keys)
            client_keys = keylib.tls12_client_write_keys(master, ch.random, sh.random, suite)
            sent = _open_tls12(c2s, client_keys)
        else:
            hs_secret = keylib.keylog_secret(keylog, ch.random, "SERVER_HANDSHAKE_TRAFFIC_SECRET")
            app_secret = keylib.keylog_secret(keylog, ch.random, "SERVER_TRAFFIC_SECRET_0")
            keys = keylib.tls13_traffic_keys(app_secret, suite)
            opened = _open_tls13(s2c, suite, hs_secret, app_secret, tickets)
            client_secret = keylib.keylog_secret(keylog, ch.random, "CLIENT_TRAFFIC_SECRET_0")
            client_keys = keylib.tls13_traffic_keys(client_secret, suite)
            sent = _open_tls13_client(c2s, client_keys)
    except InvalidTag:
        raise ProverError("key_derivation_mismatch", "derived keys do not open the server's records") from None
    stream = b"".join(o.plaintext for o in opened)
    if not response or stream[:len(response)] != response:
        raise ProverError("decryption_mismatch", "records opened with derived keys differ from the response")
    status = check_http_response(response)
    if status != 200:
        body = _split_head(response)
        detail = body[1][:300].decode("utf-8", "replace") if body else ""
        raise ProverError("http_status", f"server answered HTTP {status}: {detail}")
    locations = _locate(spec, response, opened)
    used = sorted({loc.record for loc in locations.values()})
    # Keep every record the response spans (the MPC checks the first block of record 0).
    last = max(used)
    records = [ResponseRecord(index=o.record.index, seq=o.record.seq or 0, header=o.record.header,
                              payload=o.record.payload, ciphertext=o.sealed.ciphertext, tag=o.sealed.tag,
                              nonce=o.sealed.nonce, aad=o.sealed.aad,
                              stream_offset=sum(len(p.plaintext) for p in opened[:i]),
                              plaintext_length=len(o.plaintext))
               for i, o in enumerate(opened[:last + 1])]
    request_bytes = b"".join(o.plaintext for o in sent)
    if len(sent) != 1:
        raise ProverError("one_request", "the request must be one record, alone on the connection")
    r0 = sent[0]
    request_record = ResponseRecord(index=r0.record.index, seq=r0.record.seq or 0, header=r0.record.header,
                                    payload=r0.record.payload, ciphertext=r0.sealed.ciphertext,
                                    tag=r0.sealed.tag, nonce=r0.sealed.nonce, aad=r0.sealed.aad,
                                    stream_offset=0, plaintext_length=len(r0.plaintext))
    leading = [ResponseRecord(index=o.record.index, seq=o.record.seq or 0, header=o.record.header,
                              payload=o.record.payload, ciphertext=o.sealed.ciphertext, tag=o.sealed.tag,
                              nonce=o.sealed.nonce, aad=o.sealed.aad, stream_offset=0, plaintext_length=0)
               for o in tickets]
    return ProverSession(
        tickets=leading, client_write_key=client_keys.key, client_write_iv=client_keys.iv,
        request_record=request_record, request=request_bytes, server_name=server_name, tls_version=suite.version, cipher_suite=suite.name,
        cipher_suite_id=suite.code, key_length=suite.key_length, client_random=ch.random,
        server_random=sh.random, server_write_key=keys.key, server_write_iv=keys.iv,
        server_handshake_traffic_secret=hs_secret, records=records, fields=locations,
        uid=locations["uid"].value, balance=locations[spec.primary].value, status_code=status,
        plaintext=response, bytes_sent=len(pipe.c2s), bytes_received=len(pipe.s2c),
        seconds=time.monotonic() - started)


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a file only the owner can read (mode 0600 from creation, not chmod after)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
