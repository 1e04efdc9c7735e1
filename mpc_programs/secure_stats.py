"""Statistics over secret-shared inputs, inside a running MPyC program.

Inputs (secret): the one-hot digit layout of every input (``field.py``), as this
party's shares, shape (N, DIGITS, 16). Outputs (opened to all parties): only the
aggregates ``results.finish`` needs — Σx; the variance numerator n·Σx² − (Σx)²; the
order statistics a quantile interpolates between; and, per histogram edge, the
number of inputs below it. Nothing per input is ever opened.

Algorithms and their cost (N inputs, D = 15 hex digits, 3 parties, t = 1):

* sum — local (no communication). Each input also carries its value, checked at
  ingestion to equal the public linear function Σ_t 16^t Σ_d d·onehot[t, d].
* sum of squares — a secure inner product x·x: local products, one reshare of one
  element (MPyC's np_matmul), then one multiplication for n·Σx² − (Σx)².
* order statistics — a radix search over the hex digits, most significant first,
  in the spirit of the bit-wise k-th ranked element protocols (Aggarwal, Mishra &
  Pinkas, EUROCRYPT 2004) but over one-hot digits so that one round settles 4 bits.
  For a target rank r with known (opened) prefix P of the answer, let a_i = [x_i
  starts with P] (secret). Then the 16 counts c_d = Σ_i a_i·onehot_i[t, d] are one
  secure matrix product (16 reshared elements, not N), the next digit is
  #{d ≥ 1 : c_0 + … + c_{d-1} ≤ r'} (15 small secure comparisons, r' the rank within
  the prefix), and it is opened — it is a digit of the output. Then a_i ←
  a_i·onehot_i[t, digit] (N secure products). Paths with equal prefixes share their
  a_i, so the median's two middle ranks, min, max and quantiles pay only for
  prefixes that actually differ. Cost per path: D rounds, ≤ (D−2)·N products,
  15·D comparisons of (log2 N + 2)-bit numbers. No sorting network: O(N·D) work
  instead of O(N log² N) comparisons of 57-bit numbers.
* histogram — #{x_i < e} for a public edge e is Σ_t Σ_{d < e_t} onehot_i[t, d] ·
  Π_{t' > t} onehot_i[t', e_t'] summed over i: the running products along the
  edge's digits (N products per digit, shared between edges with common leading
  digits) and one inner product per digit.

Security: semi-honest, honest majority (MPyC's model). Everything opened is either
a published statistic or a digit of one; every count stays secret. Quantiles open
the (at most two) order statistics they interpolate between — documented in
``docs/statistics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from mpyc.runtime import mpc

from mpc_programs import fast_random
from mpc_programs.field import DIGIT_BASE, DIGITS, PRIME, VALUE_INDEX

fast_random.install()

#: Secure integers over the statistics field. The declared bit length (32) is the range
#: of the numbers we *compare* (counts and ranks); sums are only added and multiplied.
secint = mpc.SecInt(32, p=PRIME)
FIELD = secint.field
#: The value as a public linear function of its one-hot digits (checked at ingestion).
DIGIT_WEIGHTS = np.array([d << (4 * t) for t in range(DIGITS) for d in range(DIGIT_BASE)],
                         dtype=object)


def local_array(values: np.ndarray, reduced: bool = False) -> "secint.array":
    """A secure array whose local share is ``values`` (field elements as Python ints).

    ``reduced=True`` promises 0 <= values < p and skips a modular reduction pass.
    """
    values = np.asarray(values, dtype=object)
    if not reduced:
        values = values % PRIME
    return secint.array(FIELD.array(values, check=False))


async def _local(x: object) -> np.ndarray:
    """This party's share values of a secure array, as an object ndarray."""
    shares = await mpc.gather(x)
    return np.asarray(shares.value, dtype=object)


async def _multiply(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Elementwise secure product of two shared arrays given by (reduced) local shares."""
    return await _local(local_array(left, True) * local_array(right, True))


async def _matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Secure matrix product: local products, only the result is reshared."""
    return await _local(local_array(left, True) @ local_array(right, True))


@dataclass
class SharedInputs:
    """This party's shares of N inputs, shape (N, SHARES_PER_INPUT)."""

    shares: np.ndarray  # dtype object, values in [0, PRIME)

    @property
    def n(self) -> int:
        return int(self.shares.shape[0])

    def digit(self, t: int) -> np.ndarray:
        """Local shares of digit t's one-hot vectors, shape (N, 16)."""
        return self.shares[:, t * DIGIT_BASE:(t + 1) * DIGIT_BASE]

    def values(self) -> np.ndarray:
        """Local shares of the values themselves."""
        return self.shares[:, VALUE_INDEX]


async def open_sum(inputs: SharedInputs) -> int:
    """Σx, opened."""
    total = int(np.sum(inputs.values()) % PRIME)
    return int(await mpc.output(secint(FIELD(total))))


async def open_variance_numerator(inputs: SharedInputs) -> tuple[int, int]:
    """(Σx, n·Σx² − (Σx)²), both opened; the second equals n(n−1)·variance."""
    values = inputs.values()
    x = local_array(values)
    total = secint(FIELD(int(np.sum(values) % PRIME)))
    squares = x @ x  # local inner product, one reshare
    numerator = inputs.n * squares - total * total
    s, v = await mpc.output([total, numerator])
    return int(s), int(v)


async def _extend_prefixes(active: dict, extensions: dict, n: int) -> dict:
    """New prefix indicators a_i·onehot_i[t, d] for each (old prefix, digit) extension.

    ``extensions`` maps new prefix -> (old prefix, column of local shares). One batched
    round of secure products for all prefixes whose old indicator is not all-ones.
    """
    new_active: dict = {}
    pending = []
    for v, (u, column) in extensions.items():
        if active[u] is None:
            new_active[v] = column  # 1 · column: free
        else:
            pending.append((v, active[u], column))
    if pending:
        products = await _multiply(np.stack([a for _, a, _ in pending]),
                                   np.stack([c for _, _, c in pending]))
        for row, (v, _, _) in enumerate(pending):
            new_active[v] = products[row]
    return new_active


async def open_order_statistics(inputs: SharedInputs, ranks: Sequence[int]) -> dict[int, int]:
    """The values at the given 0-based ranks of the sorted inputs (radix search)."""
    n = inputs.n
    ranks = sorted(set(ranks))
    if not ranks:
        return {}
    if ranks[0] < 0 or ranks[-1] >= n:
        raise ValueError("rank out of range")
    cmp_bits = (n + 1).bit_length() + 2
    prefixes: list[tuple[int, ...]] = [() for _ in ranks]
    # rank within the prefix, as local shares (a public rank is its own constant sharing)
    remaining = np.array(ranks, dtype=object)
    # a_i for each distinct prefix; None means "all inputs" (the empty prefix).
    active: dict[tuple[int, ...], np.ndarray | None] = {(): None}
    for t in reversed(range(DIGITS)):
        onehot = inputs.digit(t)
        distinct = list(dict.fromkeys(prefixes))
        # counts c_0 .. c_14 per distinct prefix (c_15 is never needed)
        counts: dict[tuple[int, ...], np.ndarray] = {}
        shared = [u for u in distinct if active[u] is not None]
        if shared:
            products = await _matmul(np.stack([active[u] for u in shared]), onehot[:, :-1])
            counts.update(zip(shared, products))
        for u in distinct:
            if active[u] is None:
                counts[u] = np.sum(onehot[:, :-1], axis=0) % PRIME
        # cumulative counts c_0 + ... + c_{d-1} for d = 1..15, one row per path
        cumulative = np.stack([np.cumsum(counts[u]) for u in prefixes]) % PRIME
        difference = (remaining[:, None] - cumulative) % PRIME
        below = await mpc.output(mpc.np_sgn(local_array(difference), l=cmp_bits, LT=True))
        digits = [int(DIGIT_BASE - 1 - sum(int(b) for b in row)) for row in below]
        for k, d in enumerate(digits):
            if d:
                remaining[k] = (remaining[k] - cumulative[k, d - 1]) % PRIME
        new_prefixes = [u + (d,) for u, d in zip(prefixes, digits)]
        if t > 0:
            extensions = {u + (d,): (u, onehot[:, d]) for u, d in zip(prefixes, digits)}
            active = await _extend_prefixes(active, extensions, n)
        prefixes = new_prefixes
    return {r: sum(d << (4 * (DIGITS - 1 - j)) for j, d in enumerate(p))
            for r, p in zip(ranks, prefixes)}


async def open_counts_below(inputs: SharedInputs, edges: Sequence[int]) -> list[int]:
    """#{i : x_i < e} for each public edge e (in units), opened."""
    n = inputs.n
    if not edges:
        return []
    edge_digits = [[(e >> (4 * t)) % DIGIT_BASE for t in range(DIGITS)] for e in edges]
    lowest = [min((s for s in range(DIGITS) if ed[s]), default=DIGITS) for ed in edge_digits]
    # prefix-equality indicators per distinct high-digit prefix; None = all ones
    running: dict[tuple[int, ...], np.ndarray | None] = {(): None}
    totals = np.zeros(len(edges), dtype=object)  # local shares of the counts
    for t in reversed(range(DIGITS)):
        onehot = inputs.digit(t)
        lefts, rights, owners = [], [], []
        for k, ed in enumerate(edge_digits):
            if ed[t] == 0:
                continue  # no digit below 0: contributes nothing
            less = np.sum(onehot[:, :ed[t]], axis=1) % PRIME  # [digit_t < e_t], local
            match = running[tuple(ed[t + 1:])]
            if match is None:
                totals[k] = (totals[k] + np.sum(less)) % PRIME
            else:
                lefts.append(less)
                rights.append(match)
                owners.append(k)
        if owners:
            # row-wise inner products Σ_i less_ki · match_ki, one reshare per edge
            left = local_array(np.stack(lefts))
            right = local_array(np.stack(rights))
            sums = [left[row] @ right[row] for row in range(len(owners))]
            for k, value in zip(owners, await mpc.gather(sums)):
                totals[k] = (totals[k] + int(value.value)) % PRIME
        if t == 0:
            break
        extensions = {}
        for k, ed in enumerate(edge_digits):
            if t - 1 >= lowest[k]:  # this edge still needs digits below t
                extensions[tuple(ed[t:])] = (tuple(ed[t + 1:]), onehot[:, ed[t]])
        running = await _extend_prefixes(running, extensions, n)
    opened = await mpc.output(local_array(totals))
    return [int(c) for c in opened]
