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

import secrets
from collections.abc import Sequence

from mpc_programs.shares.encoding import from_one_hot, one_hot, to_units
from mpc_programs.shares.field import PARTIES, PRIME, THRESHOLD


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


def lagrange_at(xs: Sequence[int], x: int, prime: int, signed: bool = False) -> list[int]:
    """Lagrange weights at ``x`` for shares at the points ``xs`` (mod ``prime``): the value
    of the polynomial through the points at ``x`` is Σ weight_i·share_i. ``signed``: each
    weight as the residue nearest 0 (−1 and 2 for the points 1, 2 evaluated at 3), so small
    weights can scale shares without a full product."""
    weights = []
    for i, x_i in enumerate(xs):
        num, den = 1, 1
        for j, x_j in enumerate(xs):
            if i != j:
                num = num * (x - x_j) % prime
                den = den * (x_i - x_j) % prime
        weight = num * pow(den, -1, prime) % prime
        weights.append(weight - prime if signed and weight > prime // 2 else weight)
    return weights


def lagrange_at_zero(xs: Sequence[int], prime: int) -> list[int]:
    """Recombination weights at 0 for shares at the points ``xs`` (mod ``prime``)."""
    return lagrange_at(xs, 0, prime)


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
