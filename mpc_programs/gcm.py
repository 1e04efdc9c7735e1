"""The public half of AES-GCM (NIST SP 800-38D): counter blocks, GHASH and the tag check.

These run in the clear on values the verification program opens on purpose: the hash key
H = E_k(0^128) and the tag mask E_k(J0) of the one record being checked. Neither tells anything
about the plaintext (its keystream blocks E_k(nonce || i+2) stay secret and are independent PRF
outputs), so the GHASH over the public AAD and ciphertext needs no MPC at all. Tested against
``cryptography``'s AESGCM in ``tests/test_aes_gcm_mpc.py``.
"""

from __future__ import annotations

import hmac

_R = 0xE1 << 120


def counter_block(nonce: bytes, counter: int) -> bytes:
    """nonce || counter (32-bit big-endian); J0 is counter 1, plaintext block i uses i+2."""
    if len(nonce) != 12:
        raise ValueError("12-byte GCM nonce required")
    return nonce + counter.to_bytes(4, "big")


def _gf128_mul(x: int, y: int) -> int:
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def ghash(h: bytes, aad: bytes, ciphertext: bytes) -> bytes:
    """GHASH_H(A, C) with the length block."""
    hi = int.from_bytes(h, "big")
    y = 0

    def absorb(data: bytes) -> None:
        nonlocal y
        for off in range(0, len(data), 16):
            block = data[off:off + 16].ljust(16, b"\0")
            y = _gf128_mul(y ^ int.from_bytes(block, "big"), hi)

    absorb(aad)
    absorb(ciphertext)
    y = _gf128_mul(y ^ ((len(aad) * 8) << 64 | len(ciphertext) * 8), hi)
    return y.to_bytes(16, "big")


def tag_ok(h: bytes, tag_mask: bytes, aad: bytes, ciphertext: bytes, tag: bytes) -> bool:
    """True iff ``tag`` is the 16-byte GCM tag of (aad, ciphertext) for H and E_k(J0)."""
    if len(h) != 16 or len(tag_mask) != 16 or len(tag) != 16:
        return False
    expected = bytes(a ^ b for a, b in zip(ghash(h, aad, ciphertext), tag_mask, strict=True))
    return hmac.compare_digest(expected, tag)
