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
  Min and max need no comparisons: for rank 0, r' stays 0 and the opened bits
  [c_0 + … + c_{d-1} > r'] are [cum ≠ 0]; for rank n − 1, r' = T − 1 (T the prefix's
  count) and they are [T − cum = 0]. Each is a public zero test (one round, opens ρ·v
  for a fresh secret random ρ: only [v = 0], ``fast_mpc.open_zero_flags``), so the
  same bits are opened as with comparisons. While a min/max path's prefix is all
  zeros (leading zeros of the answer) it first asks only "is this digit 0?" — the
  first of those bits, from one count c_0 (one column, not 15) — and computes the
  other counts only if not. N-element products and resharings use ``fast_mpc``
  (MPyC's protocols on raw share arrays, about a quarter of MPyC's local work).
  At N = 10,000 here: min ≈ 0.4 s, max ≈ 0.8 s, median ≈ 1.4 s (were 1.2, 1.1, 1.5).
* histogram — #{x_i < e} for a public edge e is Σ_t Σ_{d < e_t} onehot_i[t, d] ·
  Π_{t' > t} onehot_i[t', e_t'] summed over i: the running products along the
  edge's digits (N products per digit, shared between edges with common leading
  digits) and one inner product per digit.
* filters — the per-input indicator [x_i < e] of a public threshold e, built from the
  least significant digit up: lt ← [digit_t < e_t] + onehot[t, e_t]·lt (the first term
  is a local sum of one-hot entries), one round of N products per digit above e's
  lowest non-zero digit (≤ 14 rounds, batched over thresholds). A filter (a public
  interval minus public points) is a ± sum of such indicators: f_i ∈ {0, 1}, secret.
  Every statistic then takes f as a mask: the count Σf is opened (it is the filtered
  count), sums become inner products f·x (one reshare), the radix search and the
  histogram start from a_i = f_i instead of 1. Nothing else about f is opened.
* mode over public buckets — the histogram's bucket counts stay secret; a tournament
  of ⌈log2 B⌉ rounds of secure comparisons (B − 1 in all, of (log2 N + 2)-bit
  numbers) and selections finds the first bucket with the largest count; only its
  index and count are opened.
* Gini — ranks the (masked) values by an oblivious radix sort over their base-4
  digits (``secure_sort``: secret shuffles by pair-held permutations, one opened random
  permutation per digit, counting-sort positions by local prefix sums; no comparisons,
  O(N) per digit: about 2 s at N = 1,000 and 17 s at 10,000 here) and opens only
  Σ_k (2k + 1 − n)·x_(k) and Σx.

Every function takes an optional ``mask``: local shares of a secret 0/1 filter
indicator per input (``filter_mask``); ``None`` means every input.

Security: semi-honest, honest majority (MPyC's model). Everything opened is either
a published statistic, a digit of one, or a value derived from published ones (the
filtered count); every per-input value and every other count stays secret. Quantiles open
the (at most two) order statistics they interpolate between — documented in
``docs/statistics.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from mpc_programs.runtime import fast_mpc, product_check
from mpc_programs.shares.encoding import MAX_UNITS
from mpc_programs.shares import f192
from mpc_programs.shares.field import (DIGIT_BASE, DIGITS, ELEMENT_BYTES, PRIME, TOP_DIGIT_MAX,
                                       VALUE_INDEX)
from mpc_programs.statistics.query import Filter
from mpc_programs.runtime.hardened_runtime import mpc
from mpc_programs.runtime.secure_types import FIELD, local_array, secint
from mpc_programs.statistics import secure_sort


async def _local(x: object) -> np.ndarray:
    """This party's share values of a secure array, as an object ndarray."""
    shares = await mpc.gather(x)
    return np.asarray(shares.value, dtype=object)


async def _multiply(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Elementwise secure product of two shared arrays given by (reduced) local shares.

    Local products, then one resharing (``fast_mpc.reshare``) per element.
    """
    return await fast_mpc.multiply(left, right)


async def _output(x: object, step: str) -> object:
    """Open ``x`` (checked) once every product recorded so far has passed the product check
    (``product_check.verify``; nothing under semi-honest security): no value that depends on
    a product is ever opened unverified."""
    await product_check.verify(step)
    return await mpc.output(x)


async def _open_limbs(values: np.ndarray, step: str) -> np.ndarray:
    """:func:`_output` for limbs (``fast_mpc.open_limbs``)."""
    await product_check.verify(step)
    return await fast_mpc.open_limbs(values)


async def _matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Secure matrix product (K, N) @ (N, D): local products, only the result is reshared;
    each row's relation is recorded for the product check."""
    left = np.asarray(left, dtype=object)
    right = np.asarray(right, dtype=object)
    out = await fast_mpc.reshare(left @ right)
    if product_check.active():
        matrix = fast_mpc.to_limbs(right).reshape(*right.shape, 3)
        for row, value in zip(left, out):
            product_check.record_matvec(fast_mpc.to_limbs(row), matrix, fast_mpc.to_limbs(value))
    return out


class ShareColumns(Protocol):
    """Where a column's share rows come from: an in-memory (N, SHARES_PER_INPUT) array, or
    the store's lazy view (``ShareStore.view``) that reads layout positions on demand."""

    @property
    def n(self) -> int: ...

    def positions(self, start: int, stop: int) -> np.ndarray:
        """Local shares of layout positions [start, stop) of every input: (N, stop − start)."""
        ...

    # optional: ``raw_positions(start, stop)`` -> uint8 (N, stop − start, 24), big-endian
    # elements already checked to be < p (the store's view has it: no Python ints at all)


class _ArrayColumns:
    """:class:`ShareColumns` over rows already in memory."""

    def __init__(self, shares: np.ndarray) -> None:
        self.shares = shares

    @property
    def n(self) -> int:
        return int(self.shares.shape[0])

    def positions(self, start: int, stop: int) -> np.ndarray:
        return self.shares[:, start:stop]


#: Bytes of digit columns a :class:`SharedInputs` keeps between reads, as ``f192`` limbs
#: (24 bytes per element, 384 per input and digit): every digit of a pool of ~40,000
#: inputs, 4 digits at 100,000, none at 1,000,000 — beyond it digits are read again from
#: the store when needed, so a party's memory stays bounded whatever the pool size.
DIGIT_CACHE_BYTES = 256 << 20


class SharedInputs:
    """This party's shares of N inputs: the one-hot digits and the value of each.

    Rows are read column by column (``digit_limbs(t)``, ``values()``) so that a statistic
    over a pool held in the store never needs the whole (N, 241) layout in memory at once.
    The radix searches work on ``f192`` limbs (compiled arithmetic, issue 18); ``digit(t)``
    gives the same shares as Python ints for the programs that still use them.
    """

    def __init__(self, shares: np.ndarray | ShareColumns) -> None:
        self.columns: ShareColumns = (_ArrayColumns(shares) if isinstance(shares, np.ndarray)
                                      else shares)
        self._values: np.ndarray | None = None
        self._limbs: dict[int, np.ndarray] = {}

    @property
    def n(self) -> int:
        return int(self.columns.n)

    def digit_limbs(self, t: int) -> np.ndarray:
        """Local shares of digit t's one-hot vectors as limbs, shape (N, 16, 3)."""
        cached = self._limbs.get(t)
        if cached is not None:
            return cached
        start, stop = t * DIGIT_BASE, (t + 1) * DIGIT_BASE
        raw = getattr(self.columns, "raw_positions", None)
        if raw is not None:  # the store's big-endian bytes, range-checked as they are read
            limbs = f192.from_bytes_be(raw(start, stop).reshape(-1, ELEMENT_BYTES), check=False)
        else:
            limbs = fast_mpc.to_limbs(self.columns.positions(start, stop))
        limbs = limbs.reshape(self.n, DIGIT_BASE, 3)
        budget = DIGIT_CACHE_BYTES // max(1, limbs.nbytes)
        while self._limbs and len(self._limbs) >= budget:
            self._limbs.pop(next(iter(self._limbs)))  # oldest first
        if budget:
            self._limbs[t] = limbs
        return limbs

    def digit(self, t: int) -> np.ndarray:
        """Local shares of digit t's one-hot vectors as Python ints, shape (N, 16)."""
        if isinstance(self.columns, _ArrayColumns):
            return self.columns.positions(t * DIGIT_BASE, (t + 1) * DIGIT_BASE)
        return fast_mpc.from_limbs(self.digit_limbs(t))

    def values(self) -> np.ndarray:
        """Local shares of the values themselves."""
        if self._values is None:
            self._values = self.columns.positions(VALUE_INDEX, VALUE_INDEX + 1)[:, 0]
        return self._values


def _ones(n: int) -> np.ndarray:
    """n copies of the field element 1 as limbs."""
    out = np.zeros((n, 3), dtype=np.uint64)
    out[:, 0] = 1
    return out


def _column_sums(onehot: np.ndarray, columns: slice | None = None) -> np.ndarray:
    """Σ_i onehot[i, d] per digit d (in ``columns``), (k, 3) limbs: local, no product."""
    block = onehot if columns is None else onehot[:, columns]
    return f192.matvec_t(block, _ones(block.shape[0]))


def _row_sums(onehot: np.ndarray, count: int) -> np.ndarray:
    """Σ_{d < count} onehot[i, d] per input i, (N, 3) limbs: [digit_i < count], local."""
    return f192.rows_dot(onehot[:, :count], _ones(count))


async def _reshare(values: np.ndarray) -> np.ndarray:
    """Degree-1 shares of local degree-2 values (sums of products of shares).

    This is the second half of a secure multiplication: one reshare per element,
    however many products each local value sums.
    """
    return await fast_mpc.reshare(values)


async def truncate(values: np.ndarray, f: int, l: int, signed: bool = False,
                   product: bool = False) -> np.ndarray:
    """Shares of ⌊a / 2^f⌋ + c, c ∈ {0, 1, 2, 3}, for shared integers a (elementwise).

    Inputs: local shares of 0 <= a < 2^l (or -2^(l-1) <= a < 2^(l-1) if ``signed``),
    l + κ + 2 < 192 — degree-t shares, or with ``product=True`` local degree-2t values
    (sums of products of shares), which saves the resharing of a secure product. Output:
    secret, degree-t shares. Cost: one round, one opening per element, no secure
    products: the mask r = r_low + 2^f·r_high comes from MPyC's pseudorandom secret
    sharing (PRSS, no communication); r_low is the sum of three PRF outputs uniform on
    [0, 2^f), so r_low is uniform modulo 2^f and c = a + r (opened) shows
    (a + r_low) mod 2^f uniformly at random, while r_high (κ = 40 extra bits, ``hardened_runtime.STATISTICAL_SECURITY_BITS``)
    statistically hides the high part (both parts come from one PRF value per PRSS
    subset, split at bit f: ``fast_mpc.prss_low_high``). A degree-2t c is opened with
    a PRSS sharing of zero of degree 2t added, so the opened polynomial is uniformly
    random given c and reveals only c, as the degree-t opening does. The output is
    ⌊c / 2^f⌋ − r_high (a public value minus shares): ⌊(a + r_low) / 2^f⌋, off from
    ⌊a / 2^f⌋ by the carry ⌊((a mod 2^f) + r_low) / 2^f⌋ ∈ {0..3} units of 2^-f — the
    fixed-point code that uses it keeps 40 fractional bits, so this is below 2^-38
    relative.
    """
    values = np.asarray(values, dtype=object)
    n = values.size
    if n == 0:
        return values
    k = mpc.options.sec_param
    if l + k + 2 >= PRIME.bit_length() - 1:
        raise ValueError("truncation operand too long for the field")
    require_prss()
    offset = 1 << (l - 1) if signed else 0
    r_low, r_high = fast_mpc.prss_low_high(FIELD, n, f, l + k)
    masked = values.reshape(-1) + (offset + r_low + (r_high << f))
    if product:
        masked = masked + fast_mpc.prss_zero_2t(FIELD, n)
        opened = await mpc.output(FIELD.array(masked % PRIME, check=False),
                                  threshold=2 * mpc.threshold)
        opened = np.asarray(opened.value, dtype=object)
    else:
        opened = np.asarray(await mpc.output(local_array(masked % PRIME, True)), dtype=object)
    out = ((opened.reshape(-1) >> f) - r_high - (offset >> f)) % PRIME
    return out.reshape(values.shape)


def require_prss() -> None:
    """Fail clearly if MPyC runs without pseudorandom secret sharing (``--no-prss``).

    The fixed-point code draws its masks with PRSS (no communication); without it MPyC
    returns them asynchronously and this module does not support that mode.
    """
    if mpc.options.no_prss:
        raise RuntimeError("the fixed-point statistics need MPyC's PRSS; drop --no-prss")


async def below_indicators(inputs: SharedInputs, edges: Sequence[int]) -> dict[int, np.ndarray]:
    """Local shares of [x_i < e] for every public threshold e (in units); nothing opened.

    Least significant digit first: lt ← [digit_t < e_t] + onehot[t, e_t]·lt, starting at
    e's lowest non-zero digit (below it lt is 0). Cost: ≤ 14 rounds, one secure product
    per input, threshold and digit above that; thresholds run in the same rounds.
    """
    n = inputs.n
    out: dict[int, np.ndarray] = {}
    pending = []
    for e in sorted(set(edges)):
        if e <= 0:
            out[e] = np.zeros(n, dtype=object)
        elif e > MAX_UNITS:
            out[e] = np.ones(n, dtype=object)
        else:
            pending.append(e)
    digits = {e: [(e >> (4 * t)) % DIGIT_BASE for t in range(DIGITS)] for e in pending}
    lowest = {e: min(t for t in range(DIGITS) if digits[e][t]) for e in pending}
    lt: dict[int, np.ndarray] = {}  # limbs
    for t in range(DIGITS):
        if not any(t >= lowest[e] for e in pending):
            continue
        onehot = inputs.digit_limbs(t)
        lefts, rights, owners = [], [], []
        for e in pending:
            if t < lowest[e]:
                continue
            less = _row_sums(onehot, digits[e][t])
            if t == lowest[e]:
                lt[e] = less
            else:
                lefts.append(onehot[:, digits[e][t]])
                rights.append(lt[e])
                owners.append((e, less))
        if owners:
            products = await fast_mpc.multiply_limbs(np.stack(lefts), np.stack(rights))
            for row, (e, less) in enumerate(owners):
                lt[e] = f192.modadd(less, products[row], np.empty_like(less))
    out.update({e: fast_mpc.from_limbs(v) for e, v in lt.items()})
    return out


async def filter_mask(inputs: SharedInputs, predicate: Filter) -> np.ndarray:
    """Local shares of f_i = [x_i satisfies the public predicate]; nothing opened.

    The predicate is an interval lo <= x < hi minus public points v, so
    f = [x < hi] − [x < lo] − Σ_v ([x < v + 1] − [x < v]): linear in the threshold
    indicators of :func:`below_indicators` (its cost, for up to 2 + 2·#points thresholds).
    """
    lo, hi, excluded = predicate.interval()
    if lo >= hi:
        return np.zeros(inputs.n, dtype=object)
    edges = {lo, hi} | {v for v in excluded} | {v + 1 for v in excluded}
    ind = await below_indicators(inputs, sorted(edges))
    f = ind[hi] - ind[lo]
    for v in excluded:
        f = f - (ind[v + 1] - ind[v])
    return f % PRIME


async def open_count(mask: np.ndarray) -> int:
    """Σ f_i, opened: the number of inputs that pass the filter (local sum, one opening)."""
    return int(await _output(secint(FIELD(int(np.sum(mask) % PRIME))), "filter count"))


async def _masked_total(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Σ f_i·x_i, secret, as (1, 3) limbs from the values' limbs: a local sum, or an inner
    product (one reshare, recorded for the product check) under a mask."""
    if mask is None:
        return f192.inner(values, _ones(values.shape[0]))[None]
    mask = fast_mpc.to_limbs(mask)
    total = await fast_mpc.reshare_limbs(f192.inner(mask, values)[None])
    product_check.record_inner(mask, values, total)
    return total


async def open_sum(inputs: SharedInputs, mask: np.ndarray | None = None) -> int:
    """Σ f_i·x_i, opened. Cost: none (local) without a mask, one reshare with one."""
    if mask is None:  # Python ints: a query of plain sums never loads the kernels
        return int(await _output(secint(FIELD(int(np.sum(inputs.values()) % PRIME))), "sum"))
    total = await _masked_total(fast_mpc.to_limbs(inputs.values()), mask)
    return _signed(f192.to_ints(await _open_limbs(total, "sum"))[0])


async def open_variance_numerator(inputs: SharedInputs, mask: np.ndarray | None = None,
                                  count: int | None = None) -> tuple[int, int]:
    """(Σx, m·Σx² − (Σx)²) over the m = ``count`` masked inputs, both opened.

    The second equals m(m−1)·variance. Cost: one reshare (x·x inner product) and one
    product; a mask adds one round of N products (f∘x, then (f∘x)·x). Every product is
    recorded for the product check.
    """
    x = fast_mpc.to_limbs(inputs.values())
    total = await _masked_total(x, mask)
    if mask is None:
        m = inputs.n
        fx = x
    else:
        if count is None:
            raise ValueError("a masked variance needs the (opened) filtered count")
        m = count
        fx = await fast_mpc.multiply_limbs(fast_mpc.to_limbs(mask), x)
    squares = await fast_mpc.reshare_limbs(f192.inner(fx, x)[None])  # one reshare
    product_check.record_inner(fx, x, squares)
    total_squared = await fast_mpc.multiply_limbs(total, total)
    numerator = f192.modsub(fast_mpc.mul_const(squares, fast_mpc.constant_limbs(m),
                                               np.empty_like(squares)),
                            total_squared, np.empty_like(squares))
    s, v = f192.to_ints(await _open_limbs(np.concatenate([total, numerator]), "moments"))
    return _signed(s), _signed(v)


async def _extend_prefixes(active: dict, extensions: dict) -> dict:
    """New prefix indicators a_i·onehot_i[t, d] for each (old prefix, digit) extension.

    ``extensions`` maps new prefix -> (old prefix, column of local shares as (N, 3) limbs);
    indicators are limbs, None meaning all ones. One batched round of secure products for
    all prefixes whose old indicator is not all-ones.
    """
    new_active: dict = {}
    pending = []
    for v, (u, column) in extensions.items():
        if active[u] is None:
            new_active[v] = np.ascontiguousarray(column)  # 1 · column: free
        else:
            pending.append((v, active[u], column))
    if pending:
        products = await fast_mpc.multiply_limbs(np.stack([a for _, a, _ in pending]),
                                                 np.stack([c for _, _, c in pending]))
        for row, (v, _, _) in enumerate(pending):
            new_active[v] = products[row]
    return new_active


async def _prefix_counts(active: dict, prefixes: Sequence[tuple[int, ...]], onehot: np.ndarray,
                         columns: slice) -> dict:
    """Σ_i a_i·onehot_i[d] for d in ``columns`` per distinct prefix, as object arrays of
    degree-t shares: compiled sums of products (``f192.matvec_t``), one resharing for all
    prefixes whose indicator is secret; an all-ones prefix's counts are local sums."""
    distinct = list(dict.fromkeys(prefixes))
    counts: dict = {}
    shared = [u for u in distinct if active[u] is not None]
    if shared:
        block = onehot[:, columns]
        local = np.stack([f192.matvec_t(block, active[u]) for u in shared])
        rows = await fast_mpc.reshare_limbs(local)
        for u, row in zip(shared, rows):
            product_check.record_matvec(active[u], block, row)
        for u, row in zip(shared, fast_mpc.from_limbs(rows)):
            counts[u] = row
    for u in distinct:
        if active[u] is None:
            counts[u] = fast_mpc.from_limbs(_column_sums(onehot, columns))
    return counts


async def _below_flags(ranks: list[int], n: int, remaining: np.ndarray,
                       cumulative: np.ndarray, cmp_bits: int) -> np.ndarray:
    """Opened bits [cum_k,d > r'_k] per path k and d = 1..15 (equivalently: the digit).

    Paths for rank 0 (min) keep r' = 0, so the bit is [cum ≠ 0]; paths for rank n − 1
    (max) keep r' = T − 1 with T the prefix's count, so the bit is [r' + 1 − cum = 0].
    Both are public zero tests (``fast_mpc.open_zero_flags``: one round, reveal only
    the bit). Other ranks use MPyC's secure comparison; every path opens the same bits.
    """
    zero_rows = [k for k, r in enumerate(ranks) if r == 0 or r == n - 1]
    cmp_rows = [k for k in range(len(ranks)) if k not in zero_rows]
    below = np.zeros(cumulative.shape, dtype=bool)
    if product_check.active():
        return await _verified_below_flags(ranks, remaining, cumulative, cmp_bits,
                                           zero_rows, cmp_rows, below)
    tasks = []
    if cmp_rows:
        difference = (remaining[cmp_rows, None] - cumulative[cmp_rows]) % PRIME
        tasks.append(mpc.output(mpc.np_sgn(local_array(difference), l=cmp_bits, LT=True)))
    if zero_rows:
        tested = _zero_tested(ranks, zero_rows, remaining, cumulative)
        tasks.append(fast_mpc.open_zero_flags(tested, FIELD))
    results = [await task for task in tasks]
    if cmp_rows:
        below[cmp_rows] = np.asarray([[int(b) for b in row] for row in results[0]]) != 0
    if zero_rows:
        flags = fast_mpc.zero_flags(results[-1], tested.shape)
        for row, k in enumerate(zero_rows):
            # min: [cum > 0] = [cum ≠ 0]; max: [cum > T − 1] = [T − cum = 0]
            below[k] = ~flags[row] if ranks[k] == 0 else flags[row]
    return below


def _zero_tested(ranks: list[int], zero_rows: list[int], remaining: np.ndarray,
                 cumulative: np.ndarray) -> np.ndarray:
    """What the min/max paths test for zero: cum (min) or r' + 1 − cum (max)."""
    return np.stack([cumulative[k] if ranks[k] == 0
                     else (remaining[k] + 1 - cumulative[k]) % PRIME for k in zero_rows])


async def _verified_below_flags(ranks: list[int], remaining: np.ndarray,
                                cumulative: np.ndarray, cmp_bits: int, zero_rows: list[int],
                                cmp_rows: list[int], below: np.ndarray) -> np.ndarray:
    """:func:`_below_flags` under active security: comparisons by ``secure_compare`` and zero
    tests by :func:`_masked_for_zero_test`, every product of them and of the counts checked
    (``product_check.verify``) before the bits are opened — one opening for all."""
    parts = []
    if cmp_rows:
        from mpc_programs.statistics import secure_compare

        difference = (remaining[cmp_rows, None] - cumulative[cmp_rows]) % PRIME
        parts.append(await secure_compare.less_than_zero_limbs(
            fast_mpc.to_limbs(difference.reshape(-1)), cmp_bits))
    if zero_rows:
        tested = _zero_tested(ranks, zero_rows, remaining, cumulative)
        parts.append(await _masked_for_zero_test(fast_mpc.to_limbs(tested.reshape(-1))))
    opened = await _open_limbs(np.concatenate(parts), "order statistic digit")
    width = cumulative.shape[1]
    if cmp_rows:
        bits = f192.to_ints(opened[:len(cmp_rows) * width])
        below[cmp_rows] = np.asarray(bits, dtype=object).reshape(len(cmp_rows), width) != 0
    if zero_rows:
        flags = ~opened[len(cmp_rows) * width:].any(axis=1).reshape(len(zero_rows), width)
        for row, k in enumerate(zero_rows):
            below[k] = ~flags[row] if ranks[k] == 0 else flags[row]
    return below


async def _masked_for_zero_test(values: np.ndarray) -> np.ndarray:
    """[ρ·a] for a fresh random [ρ] per element (limbs), a verified product: opened after the
    product check it is 0 iff a = 0 and uniform otherwise (up to Pr[ρ = 0] = 1/p) — the zero
    test of ``fast_mpc.open_zero_flags`` with a degree-t resharing and a checked opening in
    place of its degree-2t opening, in which one party could shift the opened value."""
    rho = fast_mpc.prss_random_limbs(values.shape[0])
    return await fast_mpc.multiply_limbs(rho, values)


async def _zero_flags(tested: np.ndarray, step: str) -> np.ndarray:
    """Public [a = 0] per element of the shared ``tested`` (object array of local shares)."""
    if not product_check.active():
        return fast_mpc.zero_flags(await fast_mpc.open_zero_flags(tested, FIELD), tested.shape)
    masked = await _masked_for_zero_test(fast_mpc.to_limbs(tested.reshape(-1)))
    return ~(await _open_limbs(masked, step)).any(axis=1).reshape(tested.shape)


async def _zero_digit_round(ranks: list[int], n: int, prefixes: list[tuple[int, ...]],
                            remaining: np.ndarray, active: dict,
                            onehot: np.ndarray) -> list[int | None]:
    """For min/max paths: is this digit 0? Opens [c_0 ≠ 0] (min) or [c_0 = T] (max).

    That bit is the first of the bits [cum_d > r'] the full round opens (d = 1: cum_1 =
    c_0), and a function of the digit: the digit is 0 iff it is set. One inner product
    per prefix (a single column instead of 15) and one zero test; paths whose digit is
    not 0 get ``None`` and go through the full round (which opens the other bits).
    """
    c0 = {u: row[0] for u, row in (await _prefix_counts(active, prefixes, onehot,
                                                         slice(0, 1))).items()}
    tested = np.array([c0[u] if r == 0 else (remaining[k] + 1 - c0[u]) % PRIME
                       for k, (u, r) in enumerate(zip(prefixes, ranks))], dtype=object)
    flags = await _zero_flags(tested, "order statistic leading zero")
    # min: digit 0 iff c_0 ≠ 0; max: digit 0 iff T − c_0 = 0
    return [0 if (not flags[k] if r == 0 else flags[k]) else None
            for k, r in enumerate(ranks)]


async def open_order_statistics(inputs: SharedInputs, ranks: Sequence[int],
                                mask: np.ndarray | None = None,
                                count: int | None = None) -> dict[int, int]:
    """The values at the given 0-based ranks of the sorted (masked) inputs (radix search).

    With a mask the search starts from a_i = f_i, so only the ``count`` inputs that pass
    the filter are ranked; ranks are within them.
    """
    n = inputs.n if mask is None else int(_need_count(count))
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
    active: dict[tuple[int, ...], np.ndarray | None] = {
        (): None if mask is None else fast_mpc.to_limbs(mask)}
    extremes = all(r == 0 or r == n - 1 for r in ranks)
    for t in reversed(range(DIGITS)):
        onehot = inputs.digit_limbs(t)
        digits: list[int | None] = [None] * len(ranks)
        speculative: dict = {}
        if extremes and all(not any(u) and active[u] is not None for u in prefixes):
            # min/max with only leading zeros so far: first ask whether this digit is 0.
            # The extension by digit 0 is started beside the question (speculatively: the
            # same at every party, and nothing of it is opened), so a leading zero costs
            # the rounds of the zero test alone, not those of the test and then a product.
            if t > 0:
                zeros = np.ascontiguousarray(onehot[:, 0])
                speculative = {u + (0,): (active[u], fast_mpc.start_reshare_limbs(
                    f192.modmul(active[u], zeros, np.empty_like(active[u]))))
                    for u in dict.fromkeys(prefixes)}
            digits = await _zero_digit_round(ranks, n, prefixes, remaining, active, onehot)
        open_paths = [k for k, d in enumerate(digits) if d is None]
        if open_paths:
            # counts c_0 .. c_14 per distinct prefix (c_15 is never needed)
            counts = await _prefix_counts(active, [prefixes[k] for k in open_paths], onehot,
                                          slice(0, DIGIT_BASE - 1))
            # cumulative counts c_0 + ... + c_{d-1} for d = 1..15, one row per path
            cumulative = np.stack([np.cumsum(counts[prefixes[k]]) for k in open_paths]) % PRIME
            below = await _below_flags([ranks[k] for k in open_paths], n,
                                       remaining[open_paths], cumulative, cmp_bits)
            for row, k in enumerate(open_paths):
                d = int(DIGIT_BASE - 1 - sum(int(b) for b in below[row]))
                digits[k] = d
                if d:
                    remaining[k] = (remaining[k] - cumulative[row, d - 1]) % PRIME
        new_prefixes = [u + (d,) for u, d in zip(prefixes, digits)]
        if t > 0:
            ready = {v: await product for v, (_, product) in speculative.items()}
            for v, (left, _) in speculative.items():  # recorded in program order
                product_check.record_products(left, np.ascontiguousarray(onehot[:, 0]),
                                              ready[v])
            extensions = {u + (d,): (u, onehot[:, d]) for u, d in zip(prefixes, digits)
                          if u + (d,) not in ready}
            active = {**await _extend_prefixes(active, extensions),
                      **{v: ready[v] for v in new_prefixes if v in ready}}
        prefixes = new_prefixes
    return {r: sum(d << (4 * (DIGITS - 1 - j)) for j, d in enumerate(p))
            for r, p in zip(ranks, prefixes)}


async def open_counts_below(inputs: SharedInputs, edges: Sequence[int],
                            mask: np.ndarray | None = None) -> list[int]:
    """#{i : f_i = 1, x_i < e} for each public edge e (in units), opened."""
    if not edges:
        return []
    totals = await counts_below(inputs, edges, mask)
    opened = await _output(local_array(totals), "histogram")
    return [int(c) for c in opened]


async def counts_below(inputs: SharedInputs, edges: Sequence[int],
                       mask: np.ndarray | None = None) -> np.ndarray:
    """Local shares of #{i : f_i = 1, x_i < e} for each public edge e; nothing opened."""
    edge_digits = [[(e >> (4 * t)) % DIGIT_BASE for t in range(DIGITS)] for e in edges]
    lowest = [min((s for s in range(DIGITS) if ed[s]), default=DIGITS) for ed in edge_digits]
    # prefix-equality indicators per distinct high-digit prefix; None = all ones
    running: dict[tuple[int, ...], np.ndarray | None] = {
        (): None if mask is None else fast_mpc.to_limbs(mask)}  # limbs
    totals = np.zeros(len(edges), dtype=object)  # local shares of the counts
    for t in reversed(range(DIGITS)):
        if not any(ed[t] or t - 1 >= lowest[k] for k, ed in enumerate(edge_digits)):
            continue  # no edge reads this digit
        onehot = inputs.digit_limbs(t)
        products, owners = [], []
        for k, ed in enumerate(edge_digits):
            if ed[t] == 0:
                continue  # no digit below 0: contributes nothing
            match = running[tuple(ed[t + 1:])]
            if match is None:  # Σ_i [digit_t < e_t], local
                sums = fast_mpc.from_limbs(_column_sums(onehot, slice(0, ed[t])))
                totals[k] = (totals[k] + int(np.sum(sums))) % PRIME
            else:  # Σ_i [digit_t < e_t]·match_i, one reshare per edge
                below = _row_sums(onehot, ed[t])
                products.append(f192.inner(below, match))
                owners.append((k, match, below))
        if owners:
            reshared = await fast_mpc.reshare_limbs(np.stack(products))
            for (_, match, below), value in zip(owners, reshared):
                product_check.record_inner(match, below, value)
            for (k, _, _), value in zip(owners, fast_mpc.from_limbs(reshared)):
                totals[k] = (totals[k] + int(value)) % PRIME
        if t == 0:
            break
        extensions = {}
        for k, ed in enumerate(edge_digits):
            if t - 1 >= lowest[k]:  # this edge still needs digits below t
                extensions[tuple(ed[t:])] = (tuple(ed[t + 1:]), onehot[:, ed[t]])
        running = await _extend_prefixes(running, extensions)
    return totals


def _need_count(count: int | None) -> int:
    if count is None:
        raise ValueError("a masked statistic needs the (opened) filtered count")
    return count


async def _less_than_zero(values: np.ndarray, bits: int) -> np.ndarray:
    """Local shares of [v < 0] for shared v in (−2^bits, 2^bits) (object array of local
    shares): ``secure_compare`` (verified products) under active security, MPyC's
    comparison otherwise."""
    values = np.asarray(values, dtype=object) % PRIME
    if product_check.active():
        from mpc_programs.statistics import secure_compare

        flat = fast_mpc.to_limbs(values.reshape(-1))
        out = await secure_compare.less_than_zero_limbs(flat, bits)
        return fast_mpc.from_limbs(out, values.shape)
    return await _local(mpc.np_sgn(local_array(values, True), l=bits, LT=True))


async def open_mode_bucket(inputs: SharedInputs, edges: Sequence[int],
                           mask: np.ndarray | None = None,
                           count: int | None = None) -> tuple[int, int]:
    """(index, count) of the first public bucket with the most (masked) inputs, opened.

    Buckets are (-inf, e0), [e0, e1), ..., [e_last, inf). The bucket counts are the
    histogram's (:func:`counts_below`) but stay secret; a tournament keeps, in each
    pair, the left candidate unless the right one's count is strictly larger (one batch
    of secure comparisons, then one round of products per level), so on ties the
    lowest bucket wins, as ``min(statistics.multimode(...))``. Opens only the winner.
    Cost: the histogram's, plus ⌈log2 B⌉ levels of comparisons and 2 products each.
    """
    m = inputs.n if mask is None else _need_count(count)
    below = await counts_below(inputs, edges, mask)
    bounds = [0, *below, m]
    counts = [(b - a) % PRIME for a, b in itertools.pairwise(bounds)]
    indices: list[int] = list(range(len(counts)))
    cmp_bits = (m + 1).bit_length() + 2
    while len(counts) > 1:
        pairs = len(counts) // 2
        left_c = np.array(counts[0:2 * pairs:2], dtype=object)
        right_c = np.array(counts[1:2 * pairs:2], dtype=object)
        left_i = np.array(indices[0:2 * pairs:2], dtype=object)
        right_i = np.array(indices[1:2 * pairs:2], dtype=object)
        # take the right candidate iff left count < right count
        take = await _less_than_zero(left_c - right_c, cmp_bits)
        chosen = await _multiply(np.concatenate([take, take]),
                                 np.concatenate([right_c - left_c, right_i - left_i]) % PRIME)
        new_c = list((left_c + chosen[:pairs]) % PRIME)
        new_i = list((left_i + chosen[pairs:]) % PRIME)
        if len(counts) % 2:
            new_c.append(counts[-1])
            new_i.append(indices[-1])
        counts, indices = new_c, new_i
    index, best = await _output(local_array(np.array([indices[0], counts[0]], dtype=object)),
                                "mode")
    return int(index), int(best)


async def open_gini_numerator(inputs: SharedInputs, mask: np.ndarray | None = None,
                              count: int | None = None) -> tuple[int, int]:
    """(Σ_k (2k + 1 − m)·x_(k), Σx) over the m masked inputs sorted ascending, opened.

    Gini = first / (m · second), the reference's Σ(2k+1)·x_(k) / (m·Σx) − 1. The ranks come
    from an oblivious radix sort over the one-hot digits (``secure_sort``: no comparisons,
    about 55·N resharings per digit), with the filter bit as one more, most significant
    digit, so the masked-out inputs (their values set to 0) rank first. The sort hands the
    values back in a hidden shuffled order beside their ranks r, so the numerator is one
    inner product Σ y·(2r + 1 − m − 2(N − m)). Opened: one random permutation per digit
    (uniform, whatever the data), the numerator and Σx.
    """
    n = inputs.n
    values = inputs.values()
    m = n if mask is None else _need_count(count)
    digits = secure_sort.quaternary_digits_limbs(
        [inputs.digit_limbs(t) for t in range(DIGITS)], TOP_DIGIT_MAX)
    if mask is not None:
        values = await _multiply(mask, values)
        digits.append(fast_mpc.to_limbs(secure_sort.mask_digit(mask)).reshape(n, 2, 3))
    ranks, carried = await secure_sort.ranks_and_carry(
        digits, np.asarray(values, dtype=object).reshape(n, 1))
    y = carried[:, 0]
    offset = 1 - m - 2 * (n - m)  # masked-in ranks start at n − m
    weights = (2 * ranks + offset) % PRIME
    degree2 = int(np.sum(y * weights) % PRIME)
    numerator = await fast_mpc.reshare(np.array([degree2], dtype=object))
    product_check.record_inner(fast_mpc.to_limbs(y), fast_mpc.to_limbs(weights),
                               fast_mpc.to_limbs(numerator))
    total = int(np.sum(values) % PRIME)
    opened = await _output(local_array(np.array([int(numerator[0]), total], dtype=object)),
                           "gini")
    return _signed(int(opened[0])), int(opened[1])


def _signed(value: int) -> int:
    """A field element read as a signed integer in (-p/2, p/2)."""
    return value - PRIME if value > PRIME // 2 else value
