"""Discrete Laplace noise sampled jointly inside MPC, from verified random bits (``dp.plan``).

Why: a noise that each party draws and inputs is a noise that a malicious party picks. Here
η = G₁ − G₂ is computed from shared coins, each coin [U < c] for a uniform κ-bit U made of
verified random bits (``secure_compare.random_bits_limbs``: the squares behind them pass
``product_check`` before they are returned, so every U is uniform whatever one party does)
and a public threshold c (``dp.plan``). The comparisons' products are recorded for
``product_check``, which the caller's opening (``secure_stats._output``) runs before the
noisy value is opened: a party that shifts any message on the way makes the honest parties
abort, and nothing noisy is published. What an adversary can still do is abort; it cannot
choose, shift or learn the noise (η exists only as shares).

Cost per noise of K digits (``dp.plan``; K ≈ log2(scale) + 6): 2K coins of κ = 64 random bits
each — 128·K verified random bits — and 2K comparisons of ⌈log2 κ⌉ = 6 rounds, ≈ 2κ products
each. Everything is batched over all the noises asked for at once: the rounds (2 + 5 for the
bits and their check, 6 for the comparisons) do not depend on how many noises or digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from mpc_programs.runtime import fast_mpc
from mpc_programs.shares import f192
from mpc_programs.shares.field import PRIME
from mpc_programs.statistics import dp, secure_compare

_ONE = fast_mpc.constant_limbs(1)


async def coins_limbs(thresholds: Sequence[int], precision: int) -> np.ndarray:
    """Shares of [U_i < c_i], (len, 3) limbs, for public c_i in [1, 2^precision] and fresh
    uniform U_i in [0, 2^precision): coin i is 1 with probability exactly c_i / 2^precision.

    [U < c] = 1 − [c − 1 < U], and [c − 1 < U] is the bitwise comparison of the public bits
    of c − 1 with the shared bits of U (``secure_compare.bitwise_less_than``)."""
    count = len(thresholds)
    if any(not 1 <= c <= 1 << precision for c in thresholds):
        raise ValueError("a coin's threshold must lie in [1, 2^precision]")
    if count == 0:
        return np.empty((0, 3), dtype=np.uint64)
    bits = (await secure_compare.random_bits_limbs(count * precision)).reshape(
        count, precision, 3)
    below = secure_compare.public_bits(f192.from_ints([c - 1 for c in thresholds]), precision)
    at_least = await secure_compare.bitwise_less_than(below, bits)
    return f192.modsub(np.broadcast_to(_ONE, at_least.shape).copy(), at_least,
                       np.empty_like(at_least))


async def joint_noise(scales: Sequence[Fraction],
                      precision: int = dp.PRECISION_BITS) -> np.ndarray:
    """Local shares (Python ints mod p, degree 1) of one η ~ DLap(scale) per scale, sampled as
    ``dp.plan(scale, precision)`` says; all scales in one batch. The products are recorded,
    not yet verified: open nothing that depends on them before ``product_check.verify``."""
    plans = [dp.plan(Fraction(s), precision) for s in scales]
    thresholds: list[int] = []
    weights: list[int] = []  # ±2^j: η = Σ_j 2^j·(G₁ digit j − G₂ digit j)
    owners: list[int] = []
    for index, noise_plan in enumerate(plans):
        for sign in (1, -1):
            for j, c in enumerate(noise_plan.thresholds):
                thresholds.append(c)
                weights.append(sign << j)
                owners.append(index)
    coins = f192.to_ints(await coins_limbs(thresholds, precision))
    total = [0] * len(plans)
    for coin, weight, owner in zip(coins, weights, owners):
        total[owner] += int(coin) * weight
    return np.array([t % PRIME for t in total], dtype=object)
