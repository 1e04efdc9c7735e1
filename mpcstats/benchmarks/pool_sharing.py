"""Client-side sharing of whole pools of simulated providers at once (bench, tests).

The same scheme as ``mpc_programs.shares.sharing`` (degree-1 Shamir, party i at x = i + 1,
the one-hot layout of ``encoding.one_hot``), vectorised: a real provider shares one layout
with ``sharing.share_units`` and never needs this (nor numba, which it uses).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from mpc_programs.shares import f192
from mpc_programs.shares.encoding import MAX_UNITS, EncodingError
from mpc_programs.shares.field import (DIGIT_BASE, DIGIT_BITS, DIGITS, PARTIES, PRIME,
                                       SHARES_PER_INPUT, THRESHOLD)


def random_field_elements(shape: tuple[int, ...], prime: int = PRIME) -> np.ndarray:
    """Uniform elements mod ``prime`` (≤ 192 bits) as an object array: 256 bits from the OS
    CSPRNG per element, reduced, so the bias is below 2^-64 — the same source as
    ``secrets.randbelow``, one ``os.urandom`` call for the whole array."""
    if prime.bit_length() > 192:
        raise ValueError("prime too large for 256-bit sampling")
    count = int(np.prod(shape, dtype=np.int64))
    words = np.frombuffer(os.urandom(32 * count), dtype=">u8").reshape(count, 4).astype(object)
    value = (words[:, 0] << 192) | (words[:, 1] << 128) | (words[:, 2] << 64) | words[:, 3]
    return (value % prime).reshape(shape)


def split_many(secrets_: np.ndarray, parties: int = PARTIES, threshold: int = THRESHOLD,
               prime: int = PRIME) -> list[np.ndarray]:
    """:func:`split` for an array of secrets at once (any shape, Python ints): one share
    array per party, party i at x = i + 1. Vectorised, for pools of simulated providers
    (a real provider shares one layout with :func:`share_units`)."""
    secrets_ = np.asarray(secrets_, dtype=object) % prime
    coefficients = [random_field_elements(secrets_.shape, prime) for _ in range(threshold)]
    out = []
    for i in range(parties):
        x = i + 1
        y = np.zeros(secrets_.shape, dtype=object)
        for c in reversed(coefficients):  # Horner
            y = (y + c) * x
        out.append((y + secrets_) % prime)
    return out


def one_hot_many(units: Sequence[int]) -> np.ndarray:
    """The stored layouts (``encoding.one_hot``) of many values, shape (N, SHARES_PER_INPUT)."""
    values = np.asarray(units, dtype=object).reshape(-1)
    if values.size and (min(values) < 0 or max(values) > MAX_UNITS):
        raise EncodingError("units out of range")
    small = values.astype(np.int64)
    layout = np.zeros((values.size, SHARES_PER_INPUT), dtype=np.int64)
    rows = np.arange(values.size)
    for t in range(DIGITS):
        digit = (small >> (DIGIT_BITS * t)) & (DIGIT_BASE - 1)
        layout[rows, t * DIGIT_BASE + digit] = 1
    out = layout.astype(object)
    out[:, -1] = values
    return out


def share_layouts_bytes(units: Sequence[int]) -> list[np.ndarray]:
    """Each party's shares of the layouts of many values, as (N, SHARES_PER_INPUT · 24)
    uint8 rows of 24-byte big-endian field elements (``store.encode_row``'s bytes).

    For pools of simulated providers (bench, tests): the whole pool is shared in compiled
    code (``f192``), about 25 ns per element instead of ~2 µs with Python ints. A real
    provider shares its one layout with ``sharing.share_units``.
    """
    layout = one_hot_many(units)
    n = layout.shape[0]
    secret = np.zeros((n * SHARES_PER_INPUT, 3), dtype=np.uint64)
    secret[:, 0] = layout.astype(np.uint64).reshape(-1)  # every entry < 2^57: one limb
    coefficients = f192.random(n * SHARES_PER_INPUT).reshape(1, -1, 3)
    xs = np.arange(1, PARTIES + 1, dtype=np.int64)
    points = f192.shamir_points(secret, coefficients, xs,
                                np.empty((PARTIES, n * SHARES_PER_INPUT, 3), np.uint64))
    return [np.frombuffer(f192.to_bytes_be(points[i]), dtype=np.uint8).reshape(n, -1)
            for i in range(PARTIES)]
