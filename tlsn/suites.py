"""The cipher suites we can notarize, and why only these.

Only AES-GCM suites are accepted: the MPC verification re-runs AES inside MPC, and GCM is the only
AEAD here that is both widely negotiated and built from AES. TLS 1.3's default Python client picks
TLS_AES_256_GCM_SHA384, so both AES-128 and AES-256 variants are supported. ChaCha20-Poly1305 and
anything else end in :class:`~tlsn.errors.UnsupportedCipherError`, never in a silent wrong result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tlsn.errors import UnsupportedCipherError

TLS12 = "TLSv1.2"
TLS13 = "TLSv1.3"
VERSION_CODES = {0x0303: TLS12, 0x0304: TLS13}


@dataclass(frozen=True)
class CipherSuite:
    """One AES-GCM suite: its IANA code, key length and the hash of its PRF / key schedule."""

    code: int
    name: str  # IANA name
    openssl_name: str
    version: str
    key_length: int  # bytes: 16 (AES-128) or 32 (AES-256)
    hash_name: str  # "sha256" or "sha384"

    @property
    def hash_length(self) -> int:
        return 32 if self.hash_name == "sha256" else 48


SUITES: tuple[CipherSuite, ...] = (
    CipherSuite(0x1301, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", TLS13, 16, "sha256"),
    CipherSuite(0x1302, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", TLS13, 32, "sha384"),
    CipherSuite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
                TLS12, 16, "sha256"),
    CipherSuite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                TLS12, 16, "sha256"),
    CipherSuite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384",
                TLS12, 32, "sha384"),
    CipherSuite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                TLS12, 32, "sha384"),
)
_BY_CODE = {s.code: s for s in SUITES}
_BY_NAME = {n: s for s in SUITES for n in (s.name, s.openssl_name)}

# The TLS 1.2 ``set_ciphers`` string a prover uses: ECDHE + AES-GCM only.
TLS12_CIPHER_STRING = ":".join(s.openssl_name for s in SUITES if s.version == TLS12)
TLS12_AES128_CIPHER_STRING = ":".join(s.openssl_name for s in SUITES if s.version == TLS12 and s.key_length == 16)


def suite_by_code(code: int) -> CipherSuite:
    """Look a suite up by its IANA code; refuse anything that is not AES-GCM."""
    return _lookup(_BY_CODE, code, f"0x{code:04x}")


def suite_by_name(name: str) -> CipherSuite:
    """Look a suite up by IANA or OpenSSL name; refuse anything that is not AES-GCM."""
    return _lookup(_BY_NAME, name, name)


def _lookup(table: dict[Any, CipherSuite], key: object, label: str) -> CipherSuite:
    try:
        return table[key]
    except KeyError:
        raise UnsupportedCipherError(
            "unsupported_cipher", f"cipher suite {label} is not supported (AES-GCM only)") from None
