"""Ed25519 signatures over canonical JSON: how parties sign results and how readers check them.

Why canonical JSON: a signature covers bytes, and two equal JSON documents can serialize differently.
Everyone signs and verifies ``canonical_json(doc)`` — keys sorted, no whitespace, UTF-8, no NaN/Infinity —
so the bytes are a function of the document's value. Floats use Python's shortest round-trip ``repr``.

A *key id* is the first 16 hex digits of SHA-256 over the raw 32-byte public key: short enough to show and
log, long enough that a configured key is never confused with another.

A signed result document (what each computation party publishes) is::

    {"result": {...}, "party": <pid>, "key_id": "<16 hex>", "signature": "<128 hex>"}

and the signature covers ``canonical_json({"result": ..., "party": ..., "key_id": ...})``, binding the
result to the party that vouches for it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class SignatureError(Exception):
    """A document or key failed a check; ``reason`` is machine-readable.

    Reasons: ``malformed`` (missing or mistyped field), ``bad_key`` (key cannot be parsed),
    ``unknown_key`` (key id not among the trusted keys), ``wrong_party`` (signed by a key configured for another party),
    ``bad_signature`` (the signature does not verify).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def canonical_json(value: Any) -> bytes:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise SignatureError("malformed", f"not canonical JSON: {exc}") from None


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_key_bytes(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_hex(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    return public_key_bytes(key).hex()


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError("bad_key", f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("bad_key", f"{path}: not an Ed25519 key")
    return key


def load_or_create_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The key at ``path``; on first start, a new one written there readable by the owner only (0600).

    ``O_EXCL`` makes two processes racing to create it fail loudly instead of both using different keys.
    """
    p = Path(path)
    if p.exists():
        mode = p.stat().st_mode & 0o077
        if mode:
            raise SignatureError("bad_key", f"{p}: private key is readable by group/others "
                                 f"(mode {p.stat().st_mode & 0o777:o}); chmod 600 it")
        return load_private_key(p)
    key = generate_key()
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    return key


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key given as 64 hex digits (raw key) or as a PEM ``PUBLIC KEY`` block."""
    data = text.encode() if isinstance(text, str) else text
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(stripped)
            if not isinstance(key, Ed25519PublicKey):
                raise SignatureError("bad_key", "not an Ed25519 public key")
            return key
        raw = bytes.fromhex(stripped.decode("ascii"))
        if len(raw) != 32:
            raise SignatureError("bad_key", f"raw Ed25519 public key must be 32 bytes, got {len(raw)}")
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError("bad_key", f"cannot parse public key: {exc}") from None


def sign(key: Ed25519PrivateKey, document: Any) -> str:
    """Hex signature over ``canonical_json(document)``."""
    return key.sign(canonical_json(document)).hex()


def verify(key: Ed25519PublicKey, document: Any, signature_hex: str) -> None:
    """Raise :class:`SignatureError` unless ``signature_hex`` signs ``canonical_json(document)``."""
    if not isinstance(signature_hex, str):
        raise SignatureError("malformed", "signature must be a hex string")
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        raise SignatureError("malformed", "signature is not hex") from None
    if len(signature) != 64:
        raise SignatureError("malformed", f"signature must be 64 bytes, got {len(signature)}")
    try:
        key.verify(signature, canonical_json(document))
    except InvalidSignature:
        raise SignatureError("bad_signature", "signature does not verify") from None


def sign_result(key: Ed25519PrivateKey, result: Mapping[str, Any], party: int) -> dict[str, Any]:
    """The signed result document a computation party publishes."""
    body = {"result": dict(result), "party": party, "key_id": key_id(key)}
    return {**body, "signature": sign(key, body)}


def verify_result(document: Any, trusted: Mapping[int, Ed25519PublicKey],
                  expected_party: int | None = None) -> dict[str, Any]:
    """Check a signed result document against the parties' keys; return its ``result``.

    ``trusted`` maps each party id to the only key allowed to sign for it. A valid signature by party 1's
    key on a document claiming to be party 2's is ``wrong_party``, never accepted.
    """
    if not isinstance(document, Mapping):
        raise SignatureError("malformed", "document must be a JSON object")
    result, party, kid = document.get("result"), document.get("party"), document.get("key_id")
    if not isinstance(result, Mapping):
        raise SignatureError("malformed", "result must be an object")
    if isinstance(party, bool) or not isinstance(party, int):
        raise SignatureError("malformed", "party must be an integer")
    if not isinstance(kid, str):
        raise SignatureError("malformed", "key_id must be a string")
    if expected_party is not None and party != expected_party:
        raise SignatureError("wrong_party", f"document is from party {party}, expected {expected_party}")
    by_id = {key_id(k): (pid, k) for pid, k in trusted.items()}
    if kid not in by_id:
        raise SignatureError("unknown_key", f"key id {kid} is not a configured party key")
    owner, key = by_id[kid]
    if owner != party:
        raise SignatureError("wrong_party", f"key {kid} belongs to party {owner}, document claims {party}")
    verify(key, {"result": result, "party": party, "key_id": kid}, document.get("signature"))  # type: ignore[arg-type]
    return dict(result)
