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

For the statistics field itself (p = 2^192 − 237) the split runs in f192 limbs: the
secrets are converted once, the coefficients come from ``fast_mpc.random_limbs``
(ChaCha20 keyed from ``os.urandom`` per call, values ≥ p rejected: the module doc of
``fast_mpc`` gives the argument) and the m points from one compiled Horner pass; the rows
go back to MPyC as object arrays of Python ints. Other fields keep the path above.
"""

from __future__ import annotations

import os

import numpy as np
from mpyc import thresha

from mpc_programs.shares.field import PRIME

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
    if p == PRIME and n:
        return _split_limbs(s, t, m)
    coefficients = random_field_ints(t * n, p).reshape(t, n) if t else np.zeros((0, n), dtype=object)
    shares = np.empty((m, n), dtype=object)
    for i in range(1, m + 1):
        y = np.zeros(n, dtype=object)
        for c in coefficients[::-1]:  # Horner on the random coefficients
            y = (y + c) * i
        shares[i - 1] = (y + s) % p
    return shares


def _split_limbs(s, t: int, m: int) -> np.ndarray:
    """The (m, n) object-array rows of np_random_split for the statistics field, computed
    in f192 limbs."""
    from mpc_programs.runtime import fast_mpc  # late: fast_mpc imports the runtime
    from mpc_programs.shares import f192

    secrets_ = fast_mpc.to_limbs(s)
    n = secrets_.shape[0]
    if t == 0:
        return np.stack([fast_mpc.from_limbs(secrets_)] * m)
    coefficients = fast_mpc.random_limbs(t * n).reshape(t, n, 3)
    points = f192.shamir_points(secrets_, coefficients, np.arange(1, m + 1, dtype=np.int64),
                                np.empty((m, n, 3), dtype=np.uint64))
    return fast_mpc.from_limbs(points)


_original = thresha.np_random_split


def install() -> None:
    """Make MPyC's resharing use :func:`np_random_split` (idempotent)."""
    thresha.np_random_split = np_random_split
