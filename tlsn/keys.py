"""Key derivation from a TLS key log: TLS 1.2 PRF (RFC 5246 §5, §6.3) and TLS 1.3 HKDF-Expand-Label
(RFC 8446 §7.1, §7.3).

The prover learns its session secrets from ``SSLContext.keylog_filename`` (NSS key log format) and
derives the *server* write key and IV from them: that key is what the MPC parties later use, in
shares, to authenticate and decrypt the notarized response record. HMAC and HKDF come from
``cryptography``; only the label encodings are written here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tlsn.errors import KeyLogError
from tlsn.suites import TLS12, CipherSuite

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384}


def parse_keylog(text: str) -> dict[bytes, dict[str, bytes]]:
    """Parse an NSS key log: ``{client_random: {label: secret}}``; comments and blanks ignored."""
    out: dict[bytes, dict[str, bytes]] = {}
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) != 3 or parts[0].startswith("#"):
            continue
        label, random_hex, secret_hex = parts
        try:
            out.setdefault(bytes.fromhex(random_hex), {})[label] = bytes.fromhex(secret_hex)
        except ValueError:
            continue
    return out


def keylog_secret(keylog: dict[bytes, dict[str, bytes]], client_random: bytes, label: str) -> bytes:
    try:
        return keylog[client_random][label]
    except KeyError:
        raise KeyLogError("keylog_missing_secret",
                          f"key log has no {label} for client random {client_random.hex()[:16]}...") from None


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """P_hash(secret, label ‖ seed) truncated to ``length`` (RFC 5246 §5)."""
    full_seed = label + seed
    out = b""
    a = full_seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + full_seed, hash_name).digest()
    return out[:length]


def hkdf_expand_label(secret: bytes, label: str, context: bytes, length: int, hash_name: str) -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1): HkdfLabel = length ‖ "tls13 " + label ‖ context."""
    full_label = b"tls13 " + label.encode("ascii")
    info = (length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label
            + bytes([len(context)]) + context)
    return HKDFExpand(_HASHES[hash_name](), length, info).derive(secret)


@dataclass(frozen=True)
class ServerWriteKeys:
    """The server→client AEAD key and IV. TLS 1.2: ``iv`` is the 4-byte implicit salt; TLS 1.3: 12 bytes."""

    key: bytes
    iv: bytes


def tls12_server_write_keys(master_secret: bytes, client_random: bytes, server_random: bytes,
                            suite: CipherSuite) -> ServerWriteKeys:
    """key_block = PRF(master, "key expansion", server_random ‖ client_random) (RFC 5246 §6.3).

    GCM suites have no MAC keys, so the block is client key ‖ server key ‖ client salt ‖ server salt
    (RFC 5288 §3: 4-byte implicit salts).
    """
    if suite.version != TLS12:
        raise ValueError("not a TLS 1.2 suite")
    k = suite.key_length
    block = tls12_prf(master_secret, b"key expansion", server_random + client_random, 2 * k + 8,
                      suite.hash_name)
    return ServerWriteKeys(block[k:2 * k], block[2 * k + 4:2 * k + 8])


def tls12_client_write_keys(master_secret: bytes, client_random: bytes, server_random: bytes,
                            suite: CipherSuite) -> ServerWriteKeys:
    """The client→server key and 4-byte salt from the same key block (see above)."""
    if suite.version != TLS12:
        raise ValueError("not a TLS 1.2 suite")
    k = suite.key_length
    block = tls12_prf(master_secret, b"key expansion", server_random + client_random, 2 * k + 8,
                      suite.hash_name)
    return ServerWriteKeys(block[:k], block[2 * k:2 * k + 4])


def tls13_traffic_keys(traffic_secret: bytes, suite: CipherSuite) -> ServerWriteKeys:
    """[sender]_write_key/iv = HKDF-Expand-Label(secret, "key"/"iv", "", len) (RFC 8446 §7.3)."""
    key = hkdf_expand_label(traffic_secret, "key", b"", suite.key_length, suite.hash_name)
    iv = hkdf_expand_label(traffic_secret, "iv", b"", 12, suite.hash_name)
    return ServerWriteKeys(key, iv)


def tls13_finished_key(traffic_secret: bytes, suite: CipherSuite) -> bytes:
    return hkdf_expand_label(traffic_secret, "finished", b"", suite.hash_length, suite.hash_name)
