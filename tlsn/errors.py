"""Exception hierarchy of ``tlsn``: callers catch exactly what they mean.

Every refusal carries a machine-readable ``reason`` (snake_case) so that servers can map it to a
JSON error code in one place and tests can assert *why* something was refused.
"""

from __future__ import annotations


class TLSNError(Exception):
    """Base class of every error raised by ``tlsn``."""

    reason: str = "tlsn_error"

    def __init__(self, reason: str | None = None, message: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(message or self.reason)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class RecordError(TLSNError):
    """A byte stream is not a well-formed sequence of TLS records (e.g. truncated)."""

    reason = "malformed_record"


class UnsupportedCipherError(TLSNError):
    """The server negotiated a cipher suite or protocol we cannot notarize (e.g. ChaCha20-Poly1305)."""

    reason = "unsupported_cipher"


class KeyLogError(TLSNError):
    """The TLS key log lacks the secret needed for this session."""

    reason = "keylog_missing_secret"


class HandshakeError(TLSNError):
    """The notary refuses the relayed handshake (bad certificate, bad signature, truncated, ...)."""

    reason = "handshake_invalid"


class AttestationError(TLSNError):
    """An attestation does not verify (unknown key, bad signature, expired, wrong host, ...)."""

    reason = "attestation_invalid"


class ProverError(TLSNError):
    """The prover could not complete the request or locate the fields in the response."""

    reason = "prover_failed"


class SpecError(TLSNError):
    """A source spec file is missing fields or malformed."""

    reason = "spec_invalid"
