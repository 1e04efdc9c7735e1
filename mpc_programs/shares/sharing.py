"""Client-side Shamir sharing into the statistics field.

A provider is not an MPC party and never runs MPyC. It splits its input into three
shares with the same scheme MPyC uses internally (degree-``THRESHOLD`` polynomials,
party ``i`` gets the evaluation at ``i + 1``), so that each party can load its share
row as the local share of a secure object (``secint.array(field.array(row))``).

What is shared is the one-hot digit layout of the value (``encoding.one_hot``), not the
value itself: the value is a public linear function of the layout, so nothing is lost,
and the layout is what the order statistics need.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence

import numpy as np

from mpc_programs.shares.encoding import MAX_UNITS, EncodingError, from_one_hot, one_hot, to_units
from mpc_programs.shares.field import (DIGIT_BASE, DIGIT_BITS, DIGITS, PARTIES, PRIME,
                                       SHARES_PER_INPUT, THRESHOLD)


class SharingError(ValueError):
    """Shares that do not reconstruct consistently."""


def split(secrets_: Sequence[int], parties: int = PARTIES, threshold: int = THRESHOLD,
          prime: int = PRIME) -> list[list[int]]:
    """Shamir-split each secret; returns one row of shares per party (party i at x = i + 1)."""
    rows: list[list[int]] = [[0] * len(secrets_) for _ in range(parties)]
    for h, s in enumerate(secrets_):
        coefficients = [s % prime] + [secrets.randbelow(prime) for _ in range(threshold)]
        for i in range(parties):
            x = i + 1
            y = 0
            for c in reversed(coefficients):  # Horner
                y = (y * x + c) % prime
            rows[i][h] = y
    return rows


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
    provider shares its one layout with :func:`share_units`; this path is never on its
    machine (it needs numba).
    """
    from mpc_programs.shares import f192

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


def lagrange_at_zero(xs: Sequence[int], prime: int) -> list[int]:
    """Recombination weights at 0 for shares at the points ``xs`` (mod ``prime``)."""
    weights = []
    for i, x_i in enumerate(xs):
        num, den = 1, 1
        for j, x_j in enumerate(xs):
            if i != j:
                num = num * (-x_j) % prime
                den = den * (x_i - x_j) % prime
        weights.append(num * pow(den, -1, prime) % prime)
    return weights


def reconstruct(rows: dict[int, Sequence[int]], prime: int = PRIME,
                threshold: int = THRESHOLD) -> list[int]:
    """Secrets from share rows keyed by party index; with all parties, checks consistency.

    Used by tests and by the provider's self-check only: no server ever holds two rows.
    """
    if len(rows) < threshold + 1:
        raise SharingError(f"need at least {threshold + 1} share rows, got {len(rows)}")
    pids = sorted(rows)
    lengths = {len(rows[i]) for i in pids}
    if len(lengths) != 1:
        raise SharingError("share rows differ in length")
    first = pids[: threshold + 1]
    weights = lagrange_at_zero([i + 1 for i in first], prime)
    values = [sum(w * rows[i][h] for w, i in zip(weights, first)) % prime
              for h in range(lengths.pop())]
    if len(pids) > threshold + 1:  # every other subset must agree
        rest = pids[1: threshold + 2]
        weights2 = lagrange_at_zero([i + 1 for i in rest], prime)
        for h, v in enumerate(values):
            if sum(w * rows[i][h] for w, i in zip(weights2, rest)) % prime != v:
                raise SharingError(f"share {h} is not a consistent degree-{threshold} sharing")
    return values


def share_units(units: int) -> list[list[int]]:
    """Share a value given in 1e-8 units as three rows of the stored layout."""
    return split(one_hot(units))


def share_value(value: str) -> list[list[int]]:
    """Share a decimal value (e.g. ``"1.23450000"``) as three rows of the stored layout."""
    return share_units(to_units(value))


def reconstruct_value(rows: dict[int, Sequence[int]]) -> int:
    """Units of a shared value (tests only)."""
    return from_one_hot(reconstruct(rows))
