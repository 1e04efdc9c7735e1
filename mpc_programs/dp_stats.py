"""Differentially private statistics: noise added inside MPC before anything is opened.

Supported (the others are exact only; asking for DP on them is a query error):

* ``sum`` and ``mean`` over values clipped to a public bound C (``clip``): Σ min(x_i, C)
  has L1 sensitivity C when one provider joins or leaves. Clipping is computed
  inside MPC: b_i = [x_i < C] from the one-hot digits (``below_indicators``, ≤ 14
  rounds of N products), then Σ min(x_i, C) = x·b + C·(n − Σb) (one inner product).
  The mean published is the noisy sum divided by the public n (post-processing).
* ``histogram``: the bucket counts, sensitivity 1 (a provider sits in exactly one
  bucket), computed as secret counts below each edge and differenced in MPC.

Noise: each party draws discrete Laplace noise of scale Δ/ε (``dp.discrete_laplace``)
for every noised value and secret-shares it; the sum of the three is added to the
secret aggregates, and only the noisy aggregates are opened. See ``dp.py`` for why
this is ε-DP against consumers and against any single party, and why no party
knows the total noise. A party's own contribution lives only in its MPC process's
memory — never logged, never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from mpc_programs.dp import discrete_laplace
from mpc_programs.field import PRIME
from mpc_programs.hardened_runtime import mpc
from mpc_programs.secure_stats import (FIELD, SharedInputs, _multiply, below_indicators,
                                       counts_below, local_array, secint)


async def joint_noise(scales: Sequence[Fraction]) -> np.ndarray:
    """Local shares of η_0 + η_1 + η_2 per scale, η_i drawn by party i (one input round)."""
    mine = np.array([discrete_laplace(s) % PRIME for s in scales], dtype=object)
    contributions = mpc.input(secint.array(mine))  # every party is a sender
    total = np.zeros(len(scales), dtype=object)
    for shared in contributions:
        total = (total + np.asarray((await mpc.gather(shared)).value, dtype=object)) % PRIME
    return total


async def open_noisy_clipped_sum(inputs: SharedInputs, clip_units: int,
                                 scale: Fraction) -> int:
    """Σ min(x_i, C) + noise, opened (``scale`` = C/ε)."""
    below = (await below_indicators(inputs, [clip_units]))[clip_units]
    kept = local_array(below, True) @ local_array(inputs.values(), True)  # Σ x_i·[x_i < C]
    n_below = int(np.sum(below) % PRIME)
    clipped = kept + secint(FIELD((clip_units * (inputs.n - n_below)) % PRIME))
    noise = (await joint_noise([scale]))[0]
    total = clipped + secint(FIELD(int(noise)))
    return _signed(int(await mpc.output(total)))


async def open_noisy_clipped_moments(inputs: SharedInputs, clip_units: int, scale_sum: Fraction,
                                     scale_squares: Fraction) -> tuple[int, int]:
    """(Σ y_i + noise, Σ y_i² + noise) for y_i = min(x_i, C), opened (for the DP variance).

    y = x·b + C·(1 − b) with b_i = [x_i < C] (N products for x·b), then Σy (local) and y·y
    (one inner product). Sensitivities C and C²; ``scale_*`` = sensitivity / ε_part.
    """
    below = (await below_indicators(inputs, [clip_units]))[clip_units]
    kept = await _multiply(below, inputs.values())  # x_i·b_i
    clipped = (kept + clip_units * (1 - below)) % PRIME  # local shares of y_i
    total = int(np.sum(clipped) % PRIME)
    squares = local_array(clipped, True) @ local_array(clipped, True)
    noise = await joint_noise([scale_sum, scale_squares])
    noisy_total = secint(FIELD((total + int(noise[0])) % PRIME))
    noisy_squares = squares + secint(FIELD(int(noise[1])))
    s, q = await mpc.output([noisy_total, noisy_squares])
    return _signed(int(s)), _signed(int(q))


async def open_noisy_histogram(inputs: SharedInputs, edges: Sequence[int],
                               scale: Fraction) -> list[int]:
    """Bucket counts (-inf, e0), [e0, e1), ..., [e_last, inf) + noise each, opened."""
    below = await counts_below(inputs, edges)  # local shares, secret
    bounds = [0, *[int(v) for v in below], inputs.n]
    buckets = np.array([(b - a) % PRIME for a, b in zip(bounds, bounds[1:])], dtype=object)
    noise = await joint_noise([scale] * len(buckets))
    opened = await mpc.output(local_array((buckets + noise) % PRIME, True))
    return [_signed(int(c)) for c in opened]


def _signed(value: int) -> int:
    value %= PRIME
    return value - PRIME if value > PRIME // 2 else value
