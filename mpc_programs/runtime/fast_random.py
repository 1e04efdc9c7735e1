"""Bulk randomness for MPyC's resharing: a faster drop-in for ``thresha.np_random_split``.

Every secure multiplication of N elements makes each party Shamir-split N fresh
values; MPyC draws each polynomial coefficient with ``secrets.randbelow`` (about
4 µs apiece in Python), which was a fifth of the radix search's time. Here the
coefficients come from one ``os.urandom`` call per batch, read as 256-bit integers
and reduced modulo p: for a 192-bit p the statistical distance from uniform is
below 2^-64, and the source is the same OS CSPRNG that ``secrets`` uses.

The statistics' own N-element products now reshare through ``fast_mpc`` (which draws
its coefficients the same way); this still speeds up MPyC's internal protocols
(comparisons, secure-array products) that the statistics call.
"""

from __future__ import annotations

import os

import numpy as np
from mpyc import thresha

_WORDS = 4  # 256-bit samples


def random_field_ints(count: int, modulus: int) -> np.ndarray:
    """``count`` integers uniform mod ``modulus`` up to 2^-64 (for moduli <= 2^192)."""
    if modulus.bit_length() > 192:
        raise ValueError("modulus too large for 256-bit sampling")
    words = np.frombuffer(os.urandom(8 * _WORDS * count), dtype=">u8").reshape(count, _WORDS)
    words = words.astype(object)
    value = words[:, 0]
    for k in range(1, _WORDS):
        value = (value << 64) | words[:, k]
    return value % modulus


def np_random_split(field, s, t, m):  # signature of mpyc.thresha.np_random_split
    """Split each secret in s into m Shamir shares of degree t (row i for x = i + 1)."""
    p = field.modulus
    if not isinstance(p, int) or p.bit_length() > 192 or p.bit_length() < 64:
        return _original(field, s, t, m)
    if isinstance(s, field.array):
        s = s.value
    n = len(s)
    coefficients = random_field_ints(t * n, p).reshape(t, n) if t else np.zeros((0, n), dtype=object)
    shares = np.empty((m, n), dtype=object)
    for i in range(1, m + 1):
        y = np.zeros(n, dtype=object)
        for c in coefficients[::-1]:  # Horner on the random coefficients
            y = (y + c) * i
        shares[i - 1] = (y + s) % p
    return shares


_original = thresha.np_random_split


def install() -> None:
    """Make MPyC's resharing use :func:`np_random_split` (idempotent)."""
    thresha.np_random_split = np_random_split
