"""The public half of AES-GCM (NIST SP 800-38D): counter blocks, GHASH and the tag check.

These run in the clear on values the verification program opens on purpose: the hash key
H = E_k(0^128) and the tag mask E_k(J0) of each record being checked. Neither tells anything
about the plaintext (its keystream blocks E_k(nonce || i+2) stay secret and are independent PRF
outputs), so the GHASH over the public AAD and ciphertext needs no MPC at all. Tested against
``cryptography``'s AESGCM in ``tests/test_aes_gcm_mpc.py``.
"""

from __future__ import annotations

import hmac

import numpy as np

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
    return tags_ok(h, [tag_mask], [(aad, ciphertext, tag)])


# -- GHASH on real sizes: linear algebra over GF(2) in numpy, no per-block Python loop --------
#
# Multiplying by a fixed element a is GF(2)-linear: with x's bits as a 0/1 vector (MSB first,
# index t = coefficient of x^t, GCM's bit order), x*a = M_a x (mod 2), and M_{ab} = M_a M_b.
# GHASH_H(X_1..X_n) = sum_i X_i H^(n+1-i). Padded at the front with zero blocks to n = m*k
# blocks, chunk c contributes S_c = sum_j X_{ck+j} H^(k-j) (one matrix product for all chunks of
# all records: [M_H^k | ... | M_H^1]), and GHASH = sum_c S_c (H^k)^(m-1-c) (a second product).
# Every sum is below 2^24, so float32 BLAS products are exact.

_CHUNK = 32


def _element_bits(values: list[int]) -> np.ndarray:
    raw = b"".join(v.to_bytes(16, "big") for v in values)
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8)).reshape(len(values), 128)


_R_BITS = np.unpackbits(np.frombuffer(_R.to_bytes(16, "big"), dtype=np.uint8))


def _mul_matrices(elements: list[int]) -> np.ndarray:
    """M_a for every a (shape (len, 128, 128), float32 0/1): column t holds the bits of a * x^t.
    Multiplying by x is a one-bit shift and a conditional xor of R, done for all a at once."""
    v = _element_bits(elements)
    cols = np.empty((len(elements), 128, 128), dtype=np.uint8)
    for t in range(128):
        cols[:, t] = v
        carry = v[:, 127:128].copy()
        v = np.concatenate([np.zeros_like(carry), v[:, :127]], axis=1) ^ (carry * _R_BITS)
    return cols.transpose(0, 2, 1).astype(np.float32)


def _element_powers(a: int, count: int) -> list[int]:
    """[a^1, ..., a^count] in GF(2^128)."""
    out = [a]
    for _ in range(count - 1):
        out.append(_gf128_mul(out[-1], a))
    return out


def _blocks(aad: bytes, ciphertext: bytes) -> bytes:
    def pad(data: bytes) -> bytes:
        return data + bytes(-len(data) % 16)
    lengths = ((len(aad) * 8) << 64 | len(ciphertext) * 8).to_bytes(16, "big")
    return pad(aad) + pad(ciphertext) + lengths


def ghash_many(h: bytes, items: list[tuple[bytes, bytes]]) -> list[bytes]:
    """GHASH_H(A, C) of every (aad, ciphertext) in ``items`` under one hash key, vectorised."""
    if not items:
        return []
    k = _CHUNK
    data = [_blocks(aad, ct) for aad, ct in items]
    m = max(-(-len(d) // (16 * k)) for d in data)
    padded = np.zeros((len(items), m * k * 16), dtype=np.uint8)
    for i, d in enumerate(data):
        padded[i, padded.shape[1] - len(d):] = np.frombuffer(d, dtype=np.uint8)
    bits = np.unpackbits(padded, axis=1).astype(np.float32).reshape(len(items) * m, k * 128)
    hi = int.from_bytes(h, "big")
    pows = _element_powers(hi, k)  # H^1 .. H^k
    inner = _mul_matrices(pows[::-1]).transpose(1, 0, 2).reshape(128, 128 * k)  # [M_H^k | ... | M_H^1]
    chunks = np.remainder(bits @ inner.T, 2).astype(np.float32)  # (items*m) x 128
    # (H^k)^(m-1) .. (H^k)^0
    outer_elems = ([1 << 127] + _element_powers(pows[-1], m - 1))[::-1] if m > 1 else [1 << 127]
    outer = _mul_matrices(outer_elems).transpose(1, 0, 2).reshape(128, 128 * m)
    out = np.remainder(chunks.reshape(len(items), m * 128) @ outer.T, 2).astype(np.uint8)
    return [bytes(row) for row in np.packbits(out, axis=1)]


def tags_ok(h: bytes, tag_masks: list[bytes], items: list[tuple[bytes, bytes, bytes]]) -> bool:
    """True iff every (aad, ciphertext, tag) in ``items`` carries its GCM tag for H and its own
    E_k(J0) in ``tag_masks`` (several records under one key, vectorised GHASH)."""
    if len(h) != 16 or len(tag_masks) != len(items) or not items:
        return False
    if any(len(m) != 16 or len(t) != 16 for m, (_, _, t) in zip(tag_masks, items)):
        return False
    hashes = ghash_many(h, [(aad, ct) for aad, ct, _ in items])
    ok = True
    for g, mask, (_, _, tag) in zip(hashes, tag_masks, items):
        ok &= hmac.compare_digest(bytes(a ^ b for a, b in zip(g, mask)), tag)
    return ok
