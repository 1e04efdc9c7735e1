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
   a chain of 14 rounds of N products; Z_{−1} = [x = 0]. Z_t·onehot[t, d] for d ≥ 1 is 1
   exactly at the leading digit d₁ of x and its position L.
2. Range reduction by a power of two c = 2^(4L + b), b = ⌊log2 d₁⌋, so x/c ∈ [1, 2):
   ln c = (4L + b)·ln 2 and the exact 2^60/c are Σ_t Z_t·(local sums of onehot[t, ·]
   grouped by ⌊log2 d⌋) — one reshare for both; one product u = x·2^60/c and one
   truncation give R = 2^40·(1 + r), r = x/c − 1 ∈ [0, 1) (to 2^-38).
3. Polynomials. ln(1 + r) and 1/(1 + r) on [0, 1] by degree-11 interpolants at
   Chebyshev nodes (max error 1.5e-10 and 1.3e-9, checked in the tests), evaluated by
   Paterson–Stockmeyer: r², r³, r⁴ (3 products in 2 rounds, each truncated back to
   40 fractional bits), then local combinations of 1, r, r², r³ and Horner steps in r⁴
   (1 product for ln, 2 for 1/(1+r)). The last ln step and the final Σ are inner
   products: one reshare for the whole sum.
4. Σ f·ln x = Σ f·(ln c + ln(1 + r)) and Σ f/x = Σ (f·2^60/c)·(1/(1+r)) are opened.

Accuracy: per input |error| < 2e-10 in ln x and < 2e-9 relative in 1/x, so the means
are within ~1e-9 relative of the exact ones (the target is 1e-6).

Cost (N inputs): 21 resharings per input for the geometric mean (the leading-digit
chain is 14 of them), 23 for both means, 2 more under a filter; 4-5 truncations (one
opening per input each); about 24 rounds. At N = 10,000 that is about 2 s here
(``docs/statistics.md``): twice the 1 s target, bound by the per-element cost of a
resharing (≈ 4 µs in MPyC, half of it drawing the resharing randomness).

Security: semi-honest, honest majority. Each truncation opens a + r with r = r_low +
2^f·r_high from PRSS: its low f bits are uniform and its high bits statistically
hidden (κ = 30 extra bits), so openings reveal nothing (see ``secure_stats.truncate``).
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
from mpyc.runtime import mpc

from mpc_programs.field import DIGIT_BASE, DIGITS, PRIME
from mpc_programs.secure_stats import (
    FIELD,
    SharedInputs,
    _multiply,
    _reshare,
    local_array,
    require_prss,
    secint,
    truncate,
)

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

    Z_t·onehot[t, d] (d ≥ 1) marks the leading digit d₁ = d at L = t, so with the group
    sums of a digit's one-hot entries by ⌊log2 d⌋ (additions only) both are Σ_t Z_t·(small
    local combination): 4t·ln 2 and b·ln 2 for the logarithm, 2^(G − 4t − 3)·2^(3 − b)
    for the exact power-of-two reciprocal. No table lookups, no big-constant products.
    """
    onehot = inputs.shares[:, :DIGITS * DIGIT_BASE].reshape(inputs.n, DIGITS, DIGIT_BASE)
    zmat = np.stack([z[t] for t in range(DIGITS)], axis=1)  # (N, DIGITS)
    # s_k = Σ_{d >= k} onehot[·, ·, d] for k = 8, 4, 2, 1, by column additions
    s8 = onehot[:, :, 8]
    for d in range(9, DIGIT_BASE):
        s8 = s8 + onehot[:, :, d]
    s4 = s8 + onehot[:, :, 4] + onehot[:, :, 5] + onehot[:, :, 6] + onehot[:, :, 7]
    s2 = s4 + onehot[:, :, 2] + onehot[:, :, 3]
    s1 = s2 + onehot[:, :, 1]
    positions = np.array([4 * t for t in range(DIGITS)], dtype=object)
    exponent = s1 * positions + s2 + s4 + s8  # 4t + ⌊log2 d⌋ for digit d >= 1, else 0
    halvings = 8 * s1 - 4 * s2 - 2 * s4 - s8  # 2^(3 − ⌊log2 d⌋) for d >= 1, else 0
    powers = np.array([1 << (RECIPROCAL_TABLE_BITS - 4 * t - 3) for t in range(DIGITS)],
                      dtype=object)
    ln_local = np.sum(zmat * exponent, axis=1) % PRIME
    inv_local = np.sum((zmat * halvings % PRIME) * powers, axis=1) % PRIME
    return (ln_local * LN2) % PRIME, inv_local


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
    for t in range(DIGITS - 2, -1, -1):
        z[t - 1] = await _multiply(z[t], inputs.digit(t)[:, 0])
    zero = z[-1]
    zeros = (secint(FIELD(int(np.sum(zero) % PRIME))) if mask is None
             else local_array(mask, True) @ local_array(zero, True))
    require_prss()
    if int(await mpc.output(zeros * mpc._random(secint))) != 0:
        return LogReciprocalSums(True, None, None)
    # 2. c = 2^(4L + b): L the leading digit's position, b = ⌊log2 d₁⌋, then r = x/c − 1
    ln_c, inv_c = await _reshare(np.stack(_normalizers(inputs, z)))
    u = await _multiply(inputs.values(), inv_c)  # x·2^(G − 4L − b), exact
    u = (u + zero * (1 << RECIPROCAL_TABLE_BITS)) % PRIME  # x = 0: r = 0, harmless
    r = await truncate(u, RECIPROCAL_TABLE_BITS - F, RECIPROCAL_TABLE_BITS + 2)
    s1 = (r - (1 << F)) % PRIME
    s2 = await truncate(await _multiply(s1, s1), F, 2 * F + 3)
    s3, s4 = await truncate(await _multiply(np.stack([s2, s2]), np.stack([s1, s2])), F, 2 * F + 3)
    powers = [np.full(n, 1 << F, dtype=object), s1, s2, s3]
    # 3. Horner steps in r^4, batched: row 0 ln, row 1 1/(1+r), then the masked weights
    wide = 2 * F + COEFFICIENT_BITS + 8
    lefts, rights = [], []
    if want_log:
        lefts.append(s4)
        rights.append(_block(ln_coeffs, powers, 2))
    if want_reciprocal:
        lefts.append(s4)
        rights.append(_block(rec_coeffs, powers, 2))
    if mask is not None:
        lefts += [mask, mask]
        rights += [s4, inv_c]
    products = list(await _multiply(np.stack(lefts), np.stack(rights)))
    steps = await truncate(np.stack(products[:int(want_log) + int(want_reciprocal)]), F, wide,
                           signed=True)
    weight_s4, weight_inv = (products[-2], products[-1]) if mask is not None else (None, inv_c)
    degree2 = []  # local degree-2 sums to reshare and open: [log, reciprocal]
    row = 0
    if want_log:
        h1 = (_block(ln_coeffs, powers, 1) + steps[row]) % PRIME
        q0 = (_block(ln_coeffs, powers, 0) * (1 << F) + ln_c) % PRIME  # scale 2^(2F + C)
        row += 1
        if mask is None:
            degree2.append(np.sum(q0) + np.sum(s4 * h1))
        else:
            degree2.append(np.sum(mask * q0) + np.sum(weight_s4 * h1))
    if want_reciprocal:
        h1 = (_block(rec_coeffs, powers, 1) + steps[row]) % PRIME
        top = (_block(rec_coeffs, powers, 0) * (1 << F)
               + await _multiply(s4, h1)) % PRIME  # scale 2^(2F + C)
        inverse_of_x = await truncate(top, F + COEFFICIENT_BITS, wide, signed=True)  # 2^F
        degree2.append(np.sum(weight_inv * inverse_of_x))
    opened = await mpc.output(local_array(await _reshare(np.array(degree2, dtype=object)), True))
    values = [_signed(int(v)) for v in np.asarray(opened).reshape(-1)]
    log_sum = values.pop(0) if want_log else None
    reciprocal_sum = values.pop(0) if want_reciprocal else None
    return LogReciprocalSums(False, log_sum, reciprocal_sum)


def _signed(value: int) -> int:
    return value - PRIME if value > PRIME // 2 else value
