"""Record protection with AES-GCM: nonce and AAD layouts of TLS 1.2 (RFC 5288) and TLS 1.3 (RFC 8446 §5.2).

These layouts are what the MPC verification recomputes, so they live in one place:
- TLS 1.2: nonce = 4-byte salt ‖ 8-byte explicit nonce carried in the record (OpenSSL starts it at a
  random value, not at the sequence number); AAD = seq ‖ type ‖ version ‖ plaintext length.
- TLS 1.3: nonce = IV xor seq (left-padded); AAD = the 5-byte record header; the plaintext ends
  with the inner content type and zero padding.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tlsn.errors import RecordError
from tlsn.records import Record
from tlsn.suites import TLS12

TAG_LENGTH = 16
EXPLICIT_NONCE_LENGTH = 8


@dataclass(frozen=True)
class SealedRecord:
    """The public material that opens one record: nonce, AAD, ciphertext (no tag) and tag."""

    nonce: bytes
    aad: bytes
    ciphertext: bytes
    tag: bytes


def seal_parts(record: Record, seq: int, tls_version: str, iv: bytes) -> SealedRecord:
    """Split a protected record into nonce / AAD / ciphertext / tag for key ``iv`` at ``seq``."""
    payload = record.payload
    if tls_version == TLS12:
        if len(payload) < EXPLICIT_NONCE_LENGTH + TAG_LENGTH:
            raise RecordError("malformed_record", "TLS 1.2 record too short for GCM")
        nonce = iv + payload[:EXPLICIT_NONCE_LENGTH]
        body = payload[EXPLICIT_NONCE_LENGTH:]
        ciphertext, tag = body[:-TAG_LENGTH], body[-TAG_LENGTH:]
        aad = (seq.to_bytes(8, "big") + bytes([record.content_type]) + record.version.to_bytes(2, "big")
               + len(ciphertext).to_bytes(2, "big"))
        return SealedRecord(nonce, aad, ciphertext, tag)
    if len(payload) < TAG_LENGTH + 1:
        raise RecordError("malformed_record", "TLS 1.3 record too short for GCM")
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))
    return SealedRecord(nonce, record.header, payload[:-TAG_LENGTH], payload[-TAG_LENGTH:])


def open_record(key: bytes, sealed: SealedRecord) -> bytes:
    """Decrypt and authenticate; raises ``cryptography.exceptions.InvalidTag`` on any mismatch."""
    return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext + sealed.tag, sealed.aad)


def open_tls13_inner(key: bytes, sealed: SealedRecord) -> tuple[int, bytes]:
    """Decrypt a TLS 1.3 record and strip TLSInnerPlaintext padding: (inner content type, content)."""
    inner = open_record(key, sealed).rstrip(b"\x00")
    if not inner:
        raise RecordError("malformed_record", "TLS 1.3 record has no inner content type")
    return inner[-1], inner[:-1]


__all__ = ["InvalidTag", "SealedRecord", "TAG_LENGTH", "open_record", "open_tls13_inner", "seal_parts"]
