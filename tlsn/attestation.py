"""The notary's signed statement about one relayed connection, and its verification.

Format (version 1): a JSON object, serialised canonically (sorted keys, no spaces, ASCII) and signed
with Ed25519 over ``DOMAIN ‖ canonical bytes``. The domain prefix keeps a notary signature from being
replayed as anything else. It names the notary key, the server (name, address), the time, the TLS
version and suite, both randoms, a digest of the certificate chain, and for every record its
direction, index, key epoch, sequence number, header and the SHA-256 of its payload (ciphertext).
No plaintext and no key is in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tlsn.errors import AttestationError
from tlsn.handshake import HandshakeFacts

ATTESTATION_VERSION = 1
DOMAIN = b"mpcstats-tlsn-attestation-v1\n"
CLOCK_SKEW = 60  # seconds an attestation may come from the "future"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 bytes of SHA-256 over the raw public key, hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key.public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)).decode()


@dataclass(frozen=True)
class RecordEntry:
    direction: str
    index: int
    epoch: str | None
    seq: int | None
    header: str  # hex of the 5-byte record header
    payload_sha256: str


# JSON type of every field, checked before any use: a list where a string belongs must be refused as
# ``malformed``, not surface later as a TypeError (found by tests/test_fuzz.py).
_STR, _INT, _OPT_STR, _OPT_INT = (str,), (int,), (str, type(None)), (int, type(None))
_RECORD_TYPES = {"direction": _STR, "index": _INT, "epoch": _OPT_STR, "seq": _OPT_INT, "header": _STR,
                 "payload_sha256": _STR}
_ATTESTATION_TYPES = {"version": _INT, "notary_key_id": _STR, "session_id": _STR, "server_name": _STR,
                      "peer_address": _STR, "time": _INT, "tls_version": _STR, "cipher_suite": _STR,
                      "cipher_suite_id": _INT, "client_random": _STR, "server_random": _STR,
                      "cert_chain_sha256": _STR}


def _typed(d: Any, types: Mapping[str, tuple[type, ...]], where: str) -> dict[str, Any]:
    """``d`` as a dict with exactly the keys of ``types``, each of its JSON type (bool is not an int)."""
    if not isinstance(d, Mapping):
        raise AttestationError("malformed", f"{where} must be an object")
    missing, extra = set(types) - set(d), set(d) - set(types)
    if missing or extra:
        raise AttestationError("malformed",
                               f"{where}: missing {sorted(missing)}, unknown {sorted(map(str, extra))}")
    for name, allowed in types.items():
        value = d[name]
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise AttestationError("malformed", f"{where}.{name} has the wrong type")
    return dict(d)


@dataclass(frozen=True)
class Attestation:
    version: int
    notary_key_id: str
    session_id: str
    server_name: str
    peer_address: str
    time: int  # Unix seconds when the notary signed
    tls_version: str
    cipher_suite: str
    cipher_suite_id: int
    client_random: str
    server_random: str
    cert_chain_sha256: str
    records: tuple[RecordEntry, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["records"] = [asdict(r) for r in self.records]
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Attestation:
        """Parse a JSON-decoded attestation; anything malformed is ``AttestationError("malformed")``."""
        if not isinstance(d, Mapping):
            raise AttestationError("malformed", "attestation must be an object")
        records = d.get("records")
        if not isinstance(records, (list, tuple)):
            raise AttestationError("malformed", "attestation.records must be a list")
        data = _typed({k: v for k, v in d.items() if k != "records"}, _ATTESTATION_TYPES, "attestation")
        data["records"] = tuple(RecordEntry(**_typed(r, _RECORD_TYPES, f"attestation.records[{i}]"))
                                for i, r in enumerate(records))
        return cls(**data)

    def record(self, direction: str, index: int) -> RecordEntry | None:
        return next((r for r in self.records if r.direction == direction and r.index == index), None)


@dataclass(frozen=True)
class SignedAttestation:
    attestation: Attestation
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"attestation": self.attestation.to_dict(), "alg": "Ed25519",
                "signature": base64.b64encode(self.signature).decode()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    @classmethod
    def from_dict(cls, d: Any) -> SignedAttestation:
        if not isinstance(d, Mapping):
            raise AttestationError("malformed", "a signed attestation must be an object")
        if d.get("alg") != "Ed25519":
            raise AttestationError("unsupported_algorithm", f"signature algorithm {d.get('alg')!r}")
        signature = d.get("signature")
        if not isinstance(signature, str):
            raise AttestationError("malformed", "signature must be a base64 string")
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError as exc:
            raise AttestationError("malformed", f"signature: {exc}") from None
        return cls(Attestation.from_dict(d.get("attestation")), raw)

    @classmethod
    def from_json(cls, text: str) -> SignedAttestation:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise AttestationError("malformed", f"not JSON: {exc}") from None


class NotaryKey:
    """The notary's Ed25519 signing key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def generate(cls) -> NotaryKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> NotaryKey:
        key = serialization.load_pem_private_key(pem, None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the notary key must be Ed25519")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def sign(self, attestation: Attestation) -> SignedAttestation:
        if attestation.notary_key_id != self.key_id:
            raise ValueError("attestation names another notary key")
        return SignedAttestation(attestation, self.private_key.sign(DOMAIN + canonical_json(attestation.to_dict())))


def build_attestation(facts: HandshakeFacts, *, notary_key_id: str, session_id: str, peer_address: str,
                      signed_at: int | None = None) -> Attestation:
    records = tuple(RecordEntry(r.direction, r.index, r.epoch, r.seq, r.header.hex(), r.payload_sha256)
                    for r in facts.records)
    return Attestation(
        version=ATTESTATION_VERSION, notary_key_id=notary_key_id, session_id=session_id,
        server_name=facts.server_name, peer_address=peer_address,
        time=int(time.time()) if signed_at is None else signed_at, tls_version=facts.tls_version,
        cipher_suite=facts.suite.name, cipher_suite_id=facts.suite.code,
        client_random=facts.client_random.hex(), server_random=facts.server_random.hex(),
        cert_chain_sha256=facts.cert_chain_sha256, records=records)


@dataclass(frozen=True)
class RecordClaim:
    """A record someone presents as notarized: it must match the attestation's entry exactly."""

    direction: str
    index: int
    seq: int
    header: bytes
    payload: bytes


def verify_attestation(signed: SignedAttestation | Mapping[str, Any] | str,
                       trusted_keys: Ed25519PublicKey | Mapping[str, Ed25519PublicKey], *,
                       server_name: str | None = None, max_age_seconds: float | None = None,
                       now: float | None = None, records: Iterable[RecordClaim] = ()) -> Attestation:
    """Check signature, notary key, host, freshness and presented records; return the attestation.

    Raises :class:`AttestationError` with reason one of: ``malformed``, ``unsupported_algorithm``,
    ``unsupported_version``, ``unknown_notary_key``, ``bad_signature``, ``wrong_server``, ``expired``,
    ``not_yet_valid``, ``record_not_attested``, ``record_not_application_data``, ``record_mismatch``.
    """
    if isinstance(signed, str):
        signed = SignedAttestation.from_json(signed)
    elif not isinstance(signed, SignedAttestation):
        signed = SignedAttestation.from_dict(signed)
    att = signed.attestation
    if att.version != ATTESTATION_VERSION:
        raise AttestationError("unsupported_version", f"attestation version {att.version}")
    keys = ({key_id(trusted_keys): trusted_keys} if isinstance(trusted_keys, Ed25519PublicKey)
            else dict(trusted_keys))
    public = keys.get(att.notary_key_id)
    if public is None:
        raise AttestationError("unknown_notary_key", f"attestation signed by unknown key {att.notary_key_id}")
    try:
        public.verify(signed.signature, DOMAIN + canonical_json(att.to_dict()))
    except InvalidSignature:
        raise AttestationError("bad_signature", "the notary signature does not verify") from None
    if server_name is not None and att.server_name.lower() != server_name.lower():
        raise AttestationError("wrong_server", f"attestation is for {att.server_name}, expected {server_name}")
    current = time.time() if now is None else now
    if att.time > current + CLOCK_SKEW:
        raise AttestationError("not_yet_valid", "attestation time is in the future")
    if max_age_seconds is not None and current - att.time > max_age_seconds:
        raise AttestationError("expired", f"attestation is {int(current - att.time)} s old (max {max_age_seconds})")
    for claim in records:
        entry = att.record(claim.direction, claim.index)
        if entry is None:
            raise AttestationError("record_not_attested", f"no {claim.direction} record {claim.index}")
        if entry.epoch != "application" or claim.direction not in ("s2c", "c2s"):
            raise AttestationError("record_not_application_data",
                                   f"{claim.direction} record {claim.index} is not application data")
        if (entry.seq != claim.seq or entry.header != claim.header.hex()
                or entry.payload_sha256 != hashlib.sha256(claim.payload).hexdigest()):
            raise AttestationError("record_mismatch",
                                   f"{claim.direction} record {claim.index} differs from what the notary saw")
    return att
