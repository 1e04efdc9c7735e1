"""Geometric and harmonic means inside MPC: Σ ln x and Σ 1/x in fixed point, nothing per input.

Inputs (secret): the one-hot digit layout and value of every input (``field.py``), and
optionally a filter mask f (``secure_stats.filter_mask``). Outputs (opened): whether any
(masked) input is zero — as one bit, see below — and, only if none is, Σ f·ln(x) (for
the geometric mean) and/or Σ f/x (for the harmonic mean), x in 1e-8 units. Python's
``statistics`` defines ``harmonic_mean`` as 0 when an input is 0; we define the
geometric mean as 0 then too (its limit), so a zero settles both without more openings.

Algorithm (all in the 192-bit statistics field, exact integer arithmetic except the
probabilistic truncations of ``secure_stats.truncate``):

1. Leading digit. Z_t = Π_{t' > t} onehot[t', 0] = [x < 16^(t+1)] for t = 13 .. −1 by
   a chain of 13 rounds of N products (Z_14 = 1, Z_13 = onehot[14, 0] are free);
   Z_{−1} = [x = 0]. Z_t·onehot[t, d] for d ≥ 1 is 1 exactly at the leading digit d₁
   of x and its position L. Step 2's local sums for digit t are computed while the
   chain's round for digit t is in flight (``fast_mpc.start_reshare``).
2. Range reduction by a power of two c = 2^(4L + b), b = ⌊log2 d₁⌋, so x/c ∈ [1, 2):
   ln c = (4L + b)·ln 2 and the exact 2^60/c are Σ_t Z_t·(local sums of onehot[t, 1..7])
   plus a telescoped local sum of the Z_t — one reshare for both (only 2^60/c when
   ln c is needed unmasked or not at all); the product u = x·2^60/c is truncated
   directly from its local degree-2 values (``truncate(product=True)``: no reshare) to
   R = 2^40·(1 + r), r = x/c − 1 ∈ [0, 1) (to 2^-38).
3. Polynomials. ln(1 + r) and 1/(1 + r) on [0, 1] by degree-11 interpolants at
   Chebyshev nodes (max error 1.5e-10 and 1.3e-9, checked in the tests), evaluated by
   Paterson–Stockmeyer: r², r³, r⁴ (3 products in 2 rounds, each truncated back to
   40 fractional bits as a product, without a reshare), then local combinations of
   1, r, r², r³ and Horner steps in r⁴ (1 truncated product for ln, 2 for 1/(1+r)).
   The last ln step and the final Σ are inner products: one reshare for the whole sum.
4. Σ f·ln x = Σ f·(ln c + ln(1 + r)) and Σ f/x = Σ (f·2^60/c)·(1/(1+r)) are opened
   (f·r⁴ and f·2^60/c: one product each, only for the requested means).

Accuracy: per input |error| < 2e-10 in ln x and < 2e-9 relative in 1/x, so the means
are within ~1e-9 relative of the exact ones (the target is 1e-6).

Cost (N inputs): 14 resharings per input for either or both means (the leading-digit
chain is 13 of them); under a filter 16 for the geometric mean, 15 for the harmonic
mean, 17 for both; 5 truncations for the geometric mean, 6 for the harmonic, 7 for
both (one opening per input each, four or more of them fused with the product they
truncate); about 22 rounds. Resharings use ``fast_mpc`` (≈ 1 µs of local work per
element and party instead of ≈ 4 µs in MPyC). At N = 10,000 with a filter that is
about 0.9 s here (MPC time inside the parties, 3 parties on 2 cores), was 1.6–2.2 s.

Security: semi-honest, honest majority. Each truncation opens a + r with r = r_low +
2^f·r_high from PRSS: its low f bits are uniform and its high bits statistically
hidden (κ = 40 extra bits), so openings reveal nothing (see ``secure_stats.truncate``;
a truncated product is opened from degree-2 shares plus a PRSS sharing of zero of
degree 2, so the opened polynomial carries nothing beyond a + r). Resharings are
[GRR98] as in MPyC (``fast_mpc``): every message is a uniformly random field element.
The zero test opens ρ·#zeros for a fresh secret random ρ: 0 if there is no zero, a
uniformly random non-zero field element otherwise — so only the bit leaks, and the bit
is implied by the published mean (it is 0 exactly when there is a zero). Then only
the requested sums are opened; they determine the published means and vice versa
(given the published count).
"""

from __future__ import annotations

import decimal
import functools
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from mpc_programs.runtime import fast_mpc, product_check
from mpc_programs.shares.field import DIGITS, PRIME
from mpc_programs.statistics.secure_stats import (
    FIELD,
    SharedInputs,
    _multiply,
    _output,
    _reshare,
    _zero_flags,
    local_array,
    require_prss,
    secint,
    truncate,
)
from mpc_programs.runtime.hardened_runtime import mpc

#: Fractional bits of r and of its powers.
FRACTION_BITS = 40
#: Fractional bits of the polynomial coefficients.
COEFFICIENT_BITS = 40
#: Scale of the exact reciprocal 2^G / c of the power of two c <= x (G >= 4·14 + 3).
RECIPROCAL_TABLE_BITS = 60
#: Degree of the interpolants (3 Paterson–Stockmeyer blocks of 4 coefficients).
DEGREE = 11
#: Σ ln x is opened at scale 2^LOG_BITS, Σ 1/x at scale 2^RECIPROCAL_BITS.
LOG_BITS = 2 * FRACTION_BITS + COEFFICIENT_BITS
RECIPROCAL_BITS = RECIPROCAL_TABLE_BITS + FRACTION_BITS
_CTX = decimal.Context(prec=60)
with decimal.localcontext(_CTX):
    #: ln 2 at scale 2^LOG_BITS.
    LN2 = int((Decimal(2).ln() * (1 << LOG_BITS)).to_integral_value())


@dataclass(frozen=True)
class LogReciprocalSums:
    """What :func:`open_log_reciprocal_sums` opened."""

    any_zero: bool
    log_sum: int | None  # Σ ln(x) · 2^LOG_BITS, x in units
    reciprocal_sum: int | None  # Σ 2^RECIPROCAL_BITS / x


def _cos(x: Fraction) -> Decimal:
    """cos(x) to 60 digits by its Taylor series (deterministic, no platform libm)."""
    with decimal.localcontext(_CTX):
        d = Decimal(x.numerator) / Decimal(x.denominator)
        term, total, k = Decimal(1), Decimal(1), 0
        while abs(term) > Decimal(10) ** -58:
            k += 2
            term = -term * d * d / (k * (k - 1))
            total += term
        return total


def _pi() -> Fraction:
    # 60 digits of pi: enough for node placement (nodes need not be exact).
    return Fraction("3.14159265358979323846264338327950288419716939937510582097494")


def _solve(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Exact Gaussian elimination (the systems here are 12 × 12)."""
    n = len(rhs)
    a = [row[:] + [b] for row, b in zip(matrix, rhs)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col and a[r][col] != 0:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col])]
    return [a[i][n] / a[i][i] for i in range(n)]


@functools.cache
def coefficients() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Integer coefficients (scale 2^COEFFICIENT_BITS) of the ln(1+r) and 1/(1+r) interpolants.

    Interpolation at the Chebyshev nodes of [0, 1] (rounded to 2^-40), in exact rational
    arithmetic with 60-digit logarithms, so every party derives the same integers.
    """
    k = DEGREE + 1
    pi = _pi()
    nodes = []
    for j in range(k):
        c = _cos(pi * (2 * j + 1) / (2 * k))
        nodes.append(Fraction(round((1 - c) / 2 * (1 << 40)), 1 << 40))
    vandermonde = [[x ** e for e in range(k)] for x in nodes]
    with decimal.localcontext(_CTX):
        logs = [Fraction((1 + Decimal(x.numerator) / Decimal(x.denominator)).ln()) for x in nodes]
    recips = [1 / (1 + x) for x in nodes]
    scale = 1 << COEFFICIENT_BITS
    ln_coeffs = tuple(round(a * scale) for a in _solve(vandermonde, logs))
    rec_coeffs = tuple(round(a * scale) for a in _solve(vandermonde, recips))
    return ln_coeffs, rec_coeffs


def _normalizers(inputs: SharedInputs, z: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Local degree-2 shares of (ln c · 2^LOG_BITS, 2^G / c) for c = 2^(4L + b).

    Z_t·onehot[t, d] (d ≥ 1) marks the leading digit d₁ = d at L = t, and Z_t − Z_{t−1} =
    Z_t·(1 − onehot[t, 0]) marks L itself (a local difference). So 4L + b =
    Σ_t 4t·(Z_t − Z_{t−1}) + Σ_t Z_t·β_t with β_t = ⌊log2 d⌋ for the digit d at t (0 for
    d ≤ 1) and 2^(3 − b) = Σ_t Z_t·η_t with η_t = 2^(3 − ⌊log2 d⌋) (0 for d = 0); both
    β and η are public linear functions of the digit's one-hot entries, written with
    only d ≤ 7 (the entries sum to 1): β = 3(1 − e₀ − e₁) − 2(e₂ + e₃) − (e₄ + … + e₇),
    η = (1 − e₀) + 7e₁ + 3(e₂ + e₃) + (e₄ + … + e₇). Two local products per digit and
    input, no table lookups, no big-constant products.
    """
    sums = _NormalizerSums(inputs)
    for t in range(DIGITS):
        sums.add(t, z[t])
    return sums.result(z[-1])


class _NormalizerSums:
    """:func:`_normalizers`, one digit at a time (so it can overlap the Z chain's rounds)."""

    def __init__(self, inputs: SharedInputs, want_log: bool = True) -> None:
        n = inputs.n
        self.inputs = inputs
        self.want_log = want_log  # without it only 2^G / c is summed
        self.power = [1 << (RECIPROCAL_TABLE_BITS - 4 * t - 3) for t in range(DIGITS)]
        top = DIGITS - 1
        # Σ_t (4t + 3)·(Z_t − Z_{t−1}) and Σ_t 2^(G−4t−3)·(Z_t − Z_{t−1}), telescoped to
        # sums of the Z_t (Z_{D−1} = 1): (4·top + 3) − 3·Z_{−1} − 4·Σ_{t<top} Z_t, and
        # 2^(G−4·top−3) − 2^(G−3)·Z_{−1} + Σ_{t<top} (2^(G−4t−3) − 2^(G−4t−7))·Z_t
        self.ln = np.full(n, 4 * top + 3, dtype=object)
        self.inv = np.full(n, self.power[top], dtype=object)
        # under active security: the products Z_t·(−LN2·β_rest) and Z_t·(2^…·η_rest) apart
        # from the linear terms, so the reshared sums can be recorded for the product check
        self.record = product_check.active()
        self.z_terms: list[np.ndarray] = []
        self.ln_terms: list[np.ndarray] = []
        self.inv_terms: list[np.ndarray] = []
        self.ln_linear = self.ln.copy()
        self.inv_linear = self.inv.copy()

    def add(self, t: int, z_t: np.ndarray) -> None:
        onehot = self.inputs.digit(t)
        power = self.power
        if t < DIGITS - 1:
            if self.want_log:
                self.ln = self.ln - 4 * z_t
                self.ln_linear = self.ln_linear - 4 * z_t
            self.inv = self.inv + (power[t] - power[t + 1]) * z_t
            self.inv_linear = self.inv_linear + (power[t] - power[t + 1]) * z_t
        e1 = onehot[:, 1]
        s23 = onehot[:, 2] + onehot[:, 3]
        s47 = onehot[:, 4] + onehot[:, 5] + onehot[:, 6] + onehot[:, 7]
        beta_rest = 3 * e1 + 2 * s23 + s47  # β = 3(1 − e₀) − beta_rest
        eta_rest = beta_rest + 4 * e1 + s23  # η = (1 − e₀) + eta_rest
        if self.want_log:
            self.ln = self.ln - z_t * beta_rest
        self.inv = self.inv + power[t] * (z_t * eta_rest)
        if self.record:
            self.z_terms.append(z_t % PRIME)
            self.ln_terms.append((-LN2 * beta_rest) % PRIME)
            self.inv_terms.append((power[t] * eta_rest) % PRIME)

    def result(self, z_zero: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = PRIME
        ln_local = self.ln - 3 * z_zero
        inv_local = self.inv - self.power[0] * z_zero
        return (ln_local % p * LN2) % p, inv_local % p

    def ln_linear_part(self, z_zero: np.ndarray) -> np.ndarray:
        """The linear (degree-1) part of :meth:`result`'s ln c; the rest is Σ_t Z_t·ln_terms_t."""
        return ((self.ln_linear - 3 * z_zero) % PRIME * LN2) % PRIME

    def record_reshared(self, z_zero: np.ndarray, ln_c: np.ndarray | None,
                        inv_c: np.ndarray) -> None:
        """Record the reshared sums' product relations: ln c − LN2·(linear terms) =
        Σ_t Z_t·(−LN2·β_rest_t) and 2^G/c − (linear terms) = Σ_t Z_t·(2^…·η_rest_t)."""
        if not self.record:
            return
        p = PRIME

        def rows(terms: list[np.ndarray]) -> np.ndarray:  # (N, T, 3)
            stacked = np.stack(terms, axis=1)
            return fast_mpc.to_limbs(stacked).reshape(*stacked.shape, 3)
        x = rows(self.z_terms)
        if ln_c is not None:
            product_check.record_rowdot(x, rows(self.ln_terms),
                                        fast_mpc.to_limbs((ln_c - self.ln_linear_part(z_zero)) % p))
        linear = (self.inv_linear - self.power[0] * z_zero) % p
        product_check.record_rowdot(x, rows(self.inv_terms),
                                    fast_mpc.to_limbs((inv_c - linear) % p))


def _block(coeffs: tuple[int, ...], powers: list[np.ndarray], j: int) -> np.ndarray:
    """Local shares of Σ_{k<4} A_{4j+k}·r^k at scale 2^(F+C) (powers at scale 2^F)."""
    total = coeffs[4 * j] * powers[0]
    for k in range(1, 4):
        total = total + coeffs[4 * j + k] * powers[k]
    return total % PRIME


async def open_log_reciprocal_sums(inputs: SharedInputs, mask: np.ndarray | None,
                                   want_log: bool, want_reciprocal: bool) -> LogReciprocalSums:
    """See the module docstring. ``mask``: local shares of the filter, or None for all."""
    n = inputs.n
    F = FRACTION_BITS
    ln_coeffs, rec_coeffs = coefficients()
    # 1. leading digit: Z[t] = [all digits above t are 0], chain of products
    z: dict[int, np.ndarray] = {DIGITS - 1: np.ones(n, dtype=object),
                                DIGITS - 2: inputs.digit(DIGITS - 1)[:, 0]}
    # step 2's local sums, while the chain's rounds run
    sums = _NormalizerSums(inputs, want_log)
    sums.add(DIGITS - 1, z[DIGITS - 1])
    for t in range(DIGITS - 2, -1, -1):
        digit0 = inputs.digit(t)[:, 0]
        pending = fast_mpc.start_reshare(z[t] * digit0)
        sums.add(t, z[t])
        z[t - 1] = await pending
        if product_check.active():
            product_check.record_products(fast_mpc.to_limbs(z[t]), fast_mpc.to_limbs(digit0),
                                          fast_mpc.to_limbs(z[t - 1]))
    zero = z[-1]
    require_prss()
    if await _any_zero(zero, mask):
        return LogReciprocalSums(True, None, None)
    # 2. c = 2^(4L + b): L the leading digit's position, b = ⌊log2 d₁⌋, then r = x/c − 1
    ln_c, inv_c = sums.result(zero)  # local degree-2 values
    if want_log and mask is not None:  # f·ln c needs ln c reshared; Σ ln c does not
        ln_c, inv_c = await _reshare(np.stack([ln_c, inv_c]))
        sums.record_reshared(zero, ln_c, inv_c)
    else:
        inv_c = await _reshare(inv_c)
        sums.record_reshared(zero, None, inv_c)
    # u = x·2^(G − 4L − b), exact; x = 0: r = 0, harmless. Truncated as a product.
    r = await _truncated_product(inputs.values(), inv_c, RECIPROCAL_TABLE_BITS - F,
                                 RECIPROCAL_TABLE_BITS + 2,
                                 plus=zero * (1 << RECIPROCAL_TABLE_BITS))
    s1 = (r - (1 << F)) % PRIME
    s2 = await _truncated_product(s1, s1, F, 2 * F + 3)
    s3, s4 = await _truncated_product(np.stack([s2, s2]), np.stack([s1, s2]), F, 2 * F + 3)
    powers = [np.full(n, 1 << F, dtype=object), s1, s2, s3]
    # 3. Horner steps in r^4 (truncated products), and the masked weights (secure
    # products) in the same round: row 0 ln, row 1 1/(1+r)
    wide = 2 * F + COEFFICIENT_BITS + 8
    weighted = None
    if mask is not None:  # f·r^4 for the log, f·2^G/c for the reciprocal
        lefts = np.stack([mask] * (want_log + want_reciprocal))
        rights = np.stack(([s4] if want_log else []) + ([inv_c] if want_reciprocal else []))
        if product_check.active():  # verified products, in program order
            weighted = _done(await _multiply(lefts, rights))
        else:  # started now: its round overlaps the steps' truncation
            weighted = fast_mpc.start_reshare(lefts * rights)
    blocks = (([_block(ln_coeffs, powers, 2)] if want_log else [])
              + ([_block(rec_coeffs, powers, 2)] if want_reciprocal else []))
    steps = await _truncated_product(np.stack([s4] * len(blocks)), np.stack(blocks), F, wide,
                                     signed=True)
    products = list(await weighted) if weighted is not None else []
    weight_s4 = products[0] if mask is not None and want_log else None
    weight_inv = products[-1] if mask is not None else inv_c
    degree2 = []  # local degree-2 sums to reshare and open: [log, reciprocal]
    row = 0
    if want_log:
        h1 = (_block(ln_coeffs, powers, 1) + steps[row]) % PRIME
        q0 = (_block(ln_coeffs, powers, 0) * (1 << F) + ln_c) % PRIME  # scale 2^(2F + C)
        row += 1
        if mask is None and product_check.active():
            # q0 holds ln c unreshared (degree 2): its products join the recorded sum
            linear = (_block(ln_coeffs, powers, 0) * (1 << F) + sums.ln_linear_part(zero)) % PRIME
            degree2.append(([s4, *sums.z_terms], [h1, *sums.ln_terms], int(np.sum(linear))))
        elif mask is None:
            degree2.append(([s4], [h1], int(np.sum(q0))))
        else:
            degree2.append(([mask, weight_s4], [q0, h1], 0))
    if want_reciprocal:
        h1 = (_block(rec_coeffs, powers, 1) + steps[row]) % PRIME
        inverse_of_x = await _truncated_product(  # scale 2^F
            s4, h1, F + COEFFICIENT_BITS, wide, signed=True,
            plus=_block(rec_coeffs, powers, 0) * (1 << F))  # top: scale 2^(2F + C)
        degree2.append(([weight_inv], [inverse_of_x], 0))
    opened = await _output(local_array(await _inner_sums(degree2), True), "means")
    values = [_signed(int(v)) for v in np.asarray(opened).reshape(-1)]
    log_sum = values.pop(0) if want_log else None
    reciprocal_sum = values.pop(0) if want_reciprocal else None
    return LogReciprocalSums(False, log_sum, reciprocal_sum)


def _signed(value: int) -> int:
    return value - PRIME if value > PRIME // 2 else value


async def _done(value: np.ndarray) -> np.ndarray:
    return value


async def _any_zero(zero: np.ndarray, mask: np.ndarray | None) -> bool:
    """Whether any (masked) input is 0: the public zero test of Σ f·[x = 0] (one bit)."""
    if product_check.active():
        if mask is None:
            zeros = int(np.sum(zero) % PRIME)
        else:
            (zeros,) = await _inner_sums([([mask], [zero], 0)])
        return not (await _zero_flags(np.array([zeros], dtype=object), "means zero test"))[0]
    zeros = (secint(FIELD(int(np.sum(zero) % PRIME))) if mask is None
             else local_array(mask, True) @ local_array(zero, True))
    return int(await mpc.output(zeros * mpc._random(secint))) != 0


async def _truncated_product(left: np.ndarray, right: np.ndarray, f: int, l: int,
                             signed: bool = False, plus: object = 0) -> np.ndarray:
    """⌊(left·right + plus) / 2^f⌋ (``truncate``), elementwise. Semi-honest: truncated
    straight from the local degree-2 values (no resharing). Under active security the
    product is a verified one first (``_multiply``, recorded for the product check): a
    degree-2 opening has no redundancy, so one party could shift it at will."""
    if product_check.active():
        product = await _multiply(left, right)
        return await truncate((product + plus) % PRIME, f, l, signed)
    return await truncate(left * right + plus, f, l, signed, product=True)


async def _inner_sums(terms: list[tuple[list[np.ndarray], list[np.ndarray], int]]
                      ) -> np.ndarray:
    """Degree-1 shares of Σ_k Σ_i lefts[k]_i·rights[k]_i + linear for each (lefts, rights,
    linear) term: one resharing for all; each relation recorded for the product check."""
    local = [int(sum(int(np.dot(a, b) % PRIME) for a, b in zip(lefts, rights)) + linear)
             % PRIME for lefts, rights, linear in terms]
    out = await _reshare(np.array(local, dtype=object))
    if product_check.active():
        for (lefts, rights, linear), value in zip(terms, out):
            product_check.record_inner(fast_mpc.to_limbs(np.concatenate(lefts)),
                                       fast_mpc.to_limbs(np.concatenate(rights)),
                                       fast_mpc.to_limbs(np.array([(value - linear) % PRIME],
                                                                  dtype=object)))
    return out
