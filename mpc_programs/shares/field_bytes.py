"""Vectorised conversion between stored field-element bytes and Python ints.

The share store keeps every field element as 24 big-endian bytes (``ELEMENT_BYTES``);
the statistics programs compute on numpy object arrays of Python ints. These helpers
convert whole arrays at once with no interpreted per-element code: bytes -> ints views
the array as 24-byte void items (``tolist`` gives one ``bytes`` each) and maps the
builtin ``int.from_bytes`` over them; ints -> bytes maps ``int.to_bytes`` and joins. The
range check compares the three big-endian uint64 words with PRIME's in numpy.

Measured on the 2-core reference machine (shared, load 4-5), 1,000,000 elements, median
of 5, ns per element: ``ints_from_bytes`` 176-257, ``bytes_from_ints`` 264-306,
``check_below_prime`` 1.1 (6-14 when top words equal PRIME's and the full comparison
runs); a Python ``int.from_bytes`` loop 337-379. The first design — words
``astype(object)`` combined by object-array shifts and ors — measured 229-418 (in) and
239-730 (out): every object-array operation allocates a new int per element, so it
lost to the plain loop. (For arithmetic without Python ints, ``f192`` converts bytes to
uint64 limbs in ~5 ns/element.)
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from mpc_programs.shares.field import ELEMENT_BYTES, PRIME

assert ELEMENT_BYTES == 24, "the word split below is written for 192-bit elements"

_MASK64 = (1 << 64) - 1
#: PRIME's three big-endian 64-bit words (most significant first).
PRIME_WORDS = tuple(np.uint64((PRIME >> (64 * k)) & _MASK64) for k in (2, 1, 0))


def _words(a: np.ndarray) -> np.ndarray:
    """(..., 24) uint8 -> (..., 3) big-endian uint64 view (copy only if not contiguous)."""
    a = np.asarray(a)
    if a.dtype != np.uint8 or a.ndim == 0 or a.shape[-1] != ELEMENT_BYTES:
        raise ValueError(f"expected a uint8 array of shape (..., {ELEMENT_BYTES})")
    return np.ascontiguousarray(a).view(">u8")


def ints_from_bytes(a: np.ndarray) -> np.ndarray:
    """uint8 array (..., 24) of big-endian elements -> object array (...) of Python ints.

    No range check: see :func:`check_below_prime`."""
    a = np.asarray(a)
    if a.dtype != np.uint8 or a.ndim == 0 or a.shape[-1] != ELEMENT_BYTES:
        raise ValueError(f"expected a uint8 array of shape (..., {ELEMENT_BYTES})")
    shape = a.shape[:-1]
    out = np.empty(int(np.prod(shape)), dtype=object)
    if out.size:
        elements = np.ascontiguousarray(a).view(f"V{ELEMENT_BYTES}").reshape(-1).tolist()
        out[:] = list(map(int.from_bytes, elements, repeat("big")))
    return out.reshape(shape)


def bytes_from_ints(x: np.ndarray) -> np.ndarray:
    """Array (...) of non-negative ints < 2^192 -> uint8 array (..., 24), big-endian.

    Raises ValueError for a negative or too large value or a non-integer (numpy integers
    included, like ``store.encode_row``)."""
    x = np.asarray(x, dtype=object)
    try:
        raw = b"".join(map(int.to_bytes, x.reshape(-1).tolist(), repeat(ELEMENT_BYTES),
                           repeat("big")))
    except (OverflowError, TypeError) as exc:
        raise ValueError("a value is not an integer in [0, 2^192)") from exc
    return np.frombuffer(raw, dtype=np.uint8).reshape(x.shape + (ELEMENT_BYTES,)).copy()


def below_prime(a: np.ndarray) -> np.ndarray:
    """Boolean array (...): which 24-byte big-endian elements are < PRIME."""
    w = _words(a)
    w0, w1, w2 = w[..., 0], w[..., 1], w[..., 2]
    p0, p1, p2 = PRIME_WORDS
    return (w0 < p0) | ((w0 == p0) & ((w1 < p1) | ((w1 == p1) & (w2 < p2))))


def check_below_prime(a: np.ndarray) -> bool:
    """True if every element of the uint8 array (..., 24) is a field element (< PRIME)."""
    w = _words(a)
    if w.size == 0:
        return True
    if not (w[..., 0] >= PRIME_WORDS[0]).any():  # fast path: PRIME's top word is 2^64 - 1
        return True
    return bool(below_prime(a).all())
