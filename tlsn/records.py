"""TLS record layer (RFC 5246 §6.2, RFC 8446 §5): parse relayed bytes into records, keep a transcript.

The notary sees only these records; everything it attests to is a function of them. A record's
sequence number is not on the wire: it is its position within its direction's current key epoch,
which :func:`assign_sequence_numbers` reconstructs once the handshake is understood.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from tlsn.errors import RecordError

C2S = "c2s"  # client (prover) to server
S2C = "s2c"  # server to client
DIRECTIONS = (C2S, S2C)

CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
HEADER_LENGTH = 5
MAX_CIPHERTEXT = 2**14 + 2048  # RFC 5246 §6.2.3 bound on a record's fragment

PLAINTEXT = "plaintext"
HANDSHAKE_EPOCH = "handshake"
APPLICATION_EPOCH = "application"


@dataclass(frozen=True)
class Record:
    """One TLS record as it crossed the wire, plus where it sits in its key epoch (if known)."""

    direction: str
    index: int  # position among all records of this direction
    content_type: int
    version: int  # legacy record version from the header
    payload: bytes  # the fragment: ciphertext (incl. explicit nonce / tag) once encrypted
    epoch: str | None = None
    seq: int | None = None

    @property
    def header(self) -> bytes:
        return (bytes([self.content_type]) + self.version.to_bytes(2, "big")
                + len(self.payload).to_bytes(2, "big"))

    @property
    def raw(self) -> bytes:
        return self.header + self.payload

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()


def parse_records(data: bytes, direction: str, *, allow_partial: bool = False) -> tuple[list[Record], bytes]:
    """Split a direction's byte stream into records.

    Returns the records and the unparsed tail. Unless ``allow_partial``, a non-empty tail means the
    transcript was cut mid-record, which is refused with reason ``truncated_transcript``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    records: list[Record] = []
    pos = 0
    while len(data) - pos >= HEADER_LENGTH:
        content_type = data[pos]
        version = int.from_bytes(data[pos + 1:pos + 3], "big")
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        if content_type not in (CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA):
            raise RecordError("malformed_record", f"{direction} record {len(records)}: content type {content_type}")
        if version >> 8 != 3 or length > MAX_CIPHERTEXT:
            raise RecordError("malformed_record", f"{direction} record {len(records)}: bad header")
        if len(data) - pos - HEADER_LENGTH < length:
            break
        payload = bytes(data[pos + HEADER_LENGTH:pos + HEADER_LENGTH + length])
        records.append(Record(direction, len(records), content_type, version, payload))
        pos += HEADER_LENGTH + length
    tail = bytes(data[pos:])
    if tail and not allow_partial:
        raise RecordError("truncated_transcript",
                          f"{direction} stream ends inside a record ({len(tail)} bytes left over)")
    return records, tail


def assign_sequence_numbers(records: list[Record], tls_version: str,
                            handshake_epoch_records: int) -> list[Record]:
    """Label each record of ONE direction with its key epoch and sequence number.

    TLS 1.2: records after ChangeCipherSpec are encrypted, seq counting from 0 (the Finished).
    TLS 1.3: encrypted records (outer type 23) are first ``handshake_epoch_records`` records under
    the handshake keys, then the application keys restart seq at 0. ChangeCipherSpec records sent
    for middlebox compatibility are not protected and don't count.
    """
    out: list[Record] = []
    if tls_version == "TLSv1.2":
        encrypted = False
        seq = 0
        for r in records:
            if encrypted:
                out.append(replace(r, epoch=APPLICATION_EPOCH, seq=seq))
                seq += 1
            else:
                out.append(replace(r, epoch=PLAINTEXT))
                encrypted = r.content_type == CHANGE_CIPHER_SPEC
        return out
    seen = 0
    for r in records:
        if r.content_type != APPLICATION_DATA:
            out.append(replace(r, epoch=PLAINTEXT))
        elif seen < handshake_epoch_records:
            out.append(replace(r, epoch=HANDSHAKE_EPOCH, seq=seen))
            seen += 1
        else:
            out.append(replace(r, epoch=APPLICATION_EPOCH, seq=seen - handshake_epoch_records))
            seen += 1
    return out


@dataclass
class Transcript:
    """Bytes of one relayed TLS connection, both directions, exactly as relayed."""

    c2s: bytearray = field(default_factory=bytearray)
    s2c: bytearray = field(default_factory=bytearray)

    def add(self, direction: str, data: bytes) -> None:
        (self.c2s if direction == C2S else self.s2c).extend(data)

    @property
    def total_bytes(self) -> int:
        return len(self.c2s) + len(self.s2c)

    def records(self, direction: str, *, allow_partial: bool = False) -> list[Record]:
        stream = self.c2s if direction == C2S else self.s2c
        return parse_records(bytes(stream), direction, allow_partial=allow_partial)[0]
