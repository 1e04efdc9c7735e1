"""Differentially private order statistics (median, quantiles, 1st/99th percentiles) inside MPC.

Method: **noisy counts at each digit of the radix search** — the private-histogram
descent of a hierarchical decomposition (Hay, Rastogi, Miklau & Suciu, "Boosting the
Accuracy of Differentially Private Histograms Through Consistency", VLDB 2010; the
search-over-a-tree form of DP quantiles as in Cormode, Procopiuc, Srivastava, Shen &
Yu, "Differentially Private Spatial Decompositions", ICDE 2012), run on the radix
search of ``secure_stats.open_order_statistics``:

1. Values are clipped to the public bound C = 16^K (the smallest power of 16 not below
   the query's ``clip``); inputs ≥ C form one extra bucket "≥ C" at the first level.
2. For each target rank r the search descends ``LEVELS`` hex digits from digit K−1.
   At each level the 16 (first level: 17) counts of the current prefix's inputs per
   next digit are computed in MPC (secret), and **discrete Laplace noise DLap(LEVELS/ε_r),
   sampled jointly inside MPC, is added to every count** (``dp_noise.joint_noise``) before
   anything is compared. The next digit is the number of noisy cumulative counts
   ≤ the (secret) remaining rank; only the comparison bits are opened, and the
   remaining rank is reduced by the noisy count below the chosen digit.
3. The digits below the last level are not searched: the published value is the
   chosen prefix with the middle of its range (resolution 16^(K−LEVELS) units).

ε accounting (add/remove-one neighbours, as everywhere in ``dp.py``): at one level the
count vector of one prefix has L1 sensitivity 1 (a provider sits in one bucket or in
none), so DLap(LEVELS/ε_r) noise on each count makes that level's noisy vector
(ε_r/LEVELS)-DP; everything opened (the comparison bits, the digits) is a function of
the noisy vectors and the public ranks — post-processing. LEVELS levels compose to
ε_r per rank (adaptive sequential composition), and k ranks to k·ε_r: a query's
``epsilon.quantiles`` is split evenly over its distinct ranks. The noise exists only as
shares, so the guarantee holds against consumers and against any one party; the sampled
noise is within a tiny total variation of DLap, which ``dp.py`` accounts as δ.

Comparison width: the noise is bounded (|η| ≤ B = ``dp.plan(scale).magnitude_bound``), so
every noisy count lies in [−B, n + B], every cumulative count within width·B of [0, n], and
the remaining rank, reduced at each level by one cumulative count, within levels·(n +
width·B) of [0, n]: the differences compared fit :func:`comparison_bits` — no tail
probability, no overflow.

Cost per level: one matrix product (paths × N by N × 16), the noise (``dp_noise``: 17
noises per path, 2·9 coins of 64 verified random bits each at ε_r = 1), 16 secure
comparisons per path, N products per path to extend the prefix; plus, once, the indicator
[x < C] (``below_indicators``, ≤ 14 − K rounds of N products).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from mpc_programs.statistics import dp
from mpc_programs.statistics.dp_noise import joint_noise
from mpc_programs.shares.field import DIGIT_BASE, DIGITS, PRIME
from mpc_programs.statistics.secure_stats import (SharedInputs, _less_than_zero, _matmul,
                                                  _multiply, _output, below_indicators,
                                                  local_array)

#: Hex digits searched below the clipping bound's top digit (resolution C / 16^LEVELS).
LEVELS = 6
#: The widest comparison the search may need (``query.MIN_EPSILON_PER_RANK`` keeps it within).
MAX_COMPARISON_BITS = 40


def search_top(clip_units: int, levels: int = LEVELS) -> int:
    """K: the smallest K ≥ ``levels`` with 16^K ≥ clip (at most DIGITS)."""
    k = levels
    while k < DIGITS and DIGIT_BASE ** k < clip_units:
        k += 1
    return k


def published_value(digits: Sequence[int], top: int, levels: int = LEVELS) -> int:
    """The value a searched prefix publishes: the prefix, then the middle of what is left."""
    value = sum(d * DIGIT_BASE ** (top - 1 - j) for j, d in enumerate(digits))
    stop = top - levels
    return value + (DIGIT_BASE ** stop // 2 if stop > 0 else 0)


def comparison_bits(n: int, scale: Fraction, levels: int = LEVELS) -> int:
    """Bits b with every compared difference in (−2^b, 2^b) (module docstring)."""
    bound = dp.plan(scale).magnitude_bound
    width = DIGIT_BASE + 1
    return ((levels + 1) * (n + width * bound) + n + 1).bit_length()


async def open_dp_order_statistics(inputs: SharedInputs, ranks: Sequence[int], clip_units: int,
                                   epsilon_per_rank: Fraction,
                                   levels: int = LEVELS) -> dict[int, int]:
    """Each rank's DP value (units), clipped to 16^K (``search_top``); see the module docstring."""
    n = inputs.n
    ranks = sorted(set(ranks))
    if not ranks:
        return {}
    top = search_top(clip_units, levels)
    bound = DIGIT_BASE ** top
    below = (await below_indicators(inputs, [bound]))[bound] if top < DIGITS else None
    scale = Fraction(levels) / epsilon_per_rank
    cmp_bits = comparison_bits(n, scale, levels)
    if cmp_bits > MAX_COMPARISON_BITS:
        raise ValueError("epsilon too small for the comparison width (noise would overflow)")
    paths = len(ranks)
    remaining = np.array([r % PRIME for r in ranks], dtype=object)  # public: constant sharing
    active: list[np.ndarray | None] = [below] * paths
    digits: list[list[int]] = [[] for _ in range(paths)]
    clamped = [False] * paths  # chose the bucket "≥ C": the value is C
    for level, t in enumerate(range(top - 1, top - 1 - levels, -1)):
        live = [k for k in range(paths) if not clamped[k]]
        if not live:
            break
        onehot = inputs.digit(t)
        shared = [k for k in live if active[k] is not None]
        counts = {}
        if shared:
            products = await _matmul(np.stack([active[k] for k in shared]), onehot)
            counts.update(zip(shared, products))
        for k in live:
            if active[k] is None:
                counts[k] = np.sum(onehot, axis=0) % PRIME
        rows = np.stack([counts[k] for k in live])
        if level == 0 and below is not None:
            above = (n - np.sum(below)) % PRIME  # local share of #{x ≥ C}
            rows = np.hstack([rows, np.full((len(live), 1), above, dtype=object)])
        width = rows.shape[1]
        noise = await joint_noise([scale] * (len(live) * width))
        noisy = (rows + np.asarray(noise, dtype=object).reshape(len(live), width)) % PRIME
        cumulative = np.cumsum(noisy[:, :-1], axis=1) % PRIME  # cum_d for d = 1..width−1
        difference = (remaining[live, None] - cumulative) % PRIME
        opened = await _output(local_array(await _less_than_zero(difference, cmp_bits), True),
                               "dp order statistic digit")
        above_rank = np.asarray([[int(b) for b in row] for row in np.atleast_2d(opened)]) != 0
        extensions = []
        for row, k in enumerate(live):
            d = int(width - 1 - int(np.sum(above_rank[row])))  # #{d : noisy cum_d ≤ r'}
            if d == DIGIT_BASE:  # the "≥ C" bucket
                clamped[k] = True
                continue
            digits[k].append(d)
            if d:
                remaining[k] = (remaining[k] - cumulative[row, d - 1]) % PRIME
            if level < levels - 1:
                extensions.append((k, onehot[:, d]))
        grow = [(k, c) for k, c in extensions if active[k] is not None]
        for k, column in extensions:
            if active[k] is None:
                active[k] = column
        if grow:
            products = await _multiply(np.stack([active[k] for k, _ in grow]),
                                       np.stack([c for _, c in grow]))
            for row, (k, _) in enumerate(grow):
                active[k] = products[row]
    return {r: (bound if clamped[k] else published_value(digits[k], top, levels))
            for k, r in enumerate(ranks)}
