"""The DP noise distribution the parties sample *jointly inside MPC*, and its privacy accounting.

Mechanism: the discrete Laplace (two-sided geometric) mechanism. For a statistic with L1
sensitivity Δ (how much one provider joining or leaving can change it), adding noise with
P[η = k] ∝ exp(−|k|/s), s = Δ/ε, to the integer aggregate is ε-differentially private (Ghosh,
Roughgarden & Sundararajan, "Universally utility-maximizing privacy mechanisms", STOC 2009).

Why inside MPC, from shared random bits: noise that a party draws and inputs itself is noise
that a *malicious* party can choose (any value, e.g. one that moves the published mean where
it likes). Here no party chooses anything: η is a fixed public function of uniformly random
bits that are secret-shared and verified (``secure_compare.random_bits_limbs``), and every
product on the way is recorded for ``product_check``; a deviation aborts before the noisy
value is opened. No party ever learns η: it exists only as shares.

Sampling: η = G₁ − G₂ for two independent geometric variables (P[G = k] = (1 − p)·p^k, p =
e^(−1/s)) has exactly the discrete Laplace law. A geometric variable's binary digits are
*independent* Bernoulli variables: P[G = k] ∝ p^k = Π_j (p^(2^j))^(k_j), a product over the
digits k_j, so digit j is 1 with probability q_j = p^(2^j) / (1 + p^(2^j)). This is the
construction of Dwork, Kenthapadi, McSherry, Mironov, Naor, "Our Data, Ourselves: Privacy
via Distributed Noise Generation" (EUROCRYPT 2006), which obtains exponentially distributed
noise, secure against malicious participants, by combining independent coins of the right
biases, one per binary digit. Each coin is made by the folklore method that Champion,
shelat, Ullman ("Securely Sampling Biased Coins with Applications to Differential Privacy",
CCS 2019, ePrint 2019/823) take as their baseline: κ uniform bits compared with the bias's
binary expansion, statistical error 2^−κ per coin. Inside MPC digit j is [U_j < c_j] for a
uniform κ-bit U_j made of verified random bits and the public threshold c_j = round(q_j·2^κ)
(``dp_noise``); digits with c_j = 0 are dropped, so |η| < 2^K for the K digits kept — the
noise is *bounded*, which the order statistics' comparisons rely on.

What the approximation costs (written out in :func:`plan`): the sampled η̃ differs from the
ideal η in total variation by at most τ = 2·(Σ_{j<K} |q_j − c_j/2^κ| + Σ_{j≥K} q_j) — the
rounding of each digit's probability and the dropped digits, for both geometric variables
(coupling the digits one by one). A query whose ideal mechanism M is ε-DP and which draws
noises with total variation τ₁ + … + τ_m is then (ε, δ)-DP with δ = (1 + e^ε)·Σ τ_i:
P[M̃(x) ∈ S] ≤ P[M(x) ∈ S] + τ ≤ e^ε·P[M(x') ∈ S] + τ ≤ e^ε·(P[M̃(x') ∈ S] + τ) + τ.
Each rounding error is at most 2^−(κ+1) and the dropped tail at most ≈ 2^−κ, so τ ≤ (K + 2)·2^−κ
per noise; with κ = 64 and K ≤ ``MAX_DIGITS`` every noise is within 10^−17 of its ideal law.
A query's δ (:func:`delta_bound`, from the number of noises it draws) is published with its
result: ≈ 4·10^−15 for a DP median at ε = 1, ≈ 10^−10 for five quantiles at ε = 10.
"""

from __future__ import annotations

import decimal
import functools
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

#: κ: each geometric digit's probability is rounded to a multiple of 2^−κ.
PRECISION_BITS = 64
#: Decimal digits for the thresholds: q_j is needed to far better than 2^−κ ≈ 5·10^−20.
_DIGITS = 100
#: Added to every computed error to cover Decimal's own rounding (≪ 2^−κ).
_SLACK = Decimal(10) ** -(_DIGITS - 10)
#: At most this many digits per geometric variable: 2^K must stay far below the field's half
#: (|η| < 2^K is added to aggregates of up to 2^140; the field has 192 bits).
MAX_DIGITS = 180
#: τ per noise is at most (K + 2)·2^−κ plus slack (module docstring): with K ≤ MAX_DIGITS,
#: every noise's total variation is below this — what ``delta_bound`` charges per noise.
TOTAL_VARIATION_PER_NOISE = Decimal(MAX_DIGITS + 3) / Decimal(2) ** PRECISION_BITS


@dataclass(frozen=True)
class NoisePlan:
    """How one DLap(scale) noise is sampled: geometric digit j is [U < thresholds[j]] for a
    uniform U in [0, 2^precision); η = G₁ − G₂. ``total_variation`` bounds the distance of
    that η to the ideal DLap(scale) (module docstring)."""

    scale: Fraction
    precision: int
    thresholds: tuple[int, ...]
    total_variation: Decimal

    @property
    def magnitude_bound(self) -> int:
        """|η| never exceeds this: both geometric variables are below 2^K."""
        return (1 << len(self.thresholds)) - 1


@functools.lru_cache(maxsize=256)
def plan(scale: Fraction, precision: int = PRECISION_BITS) -> NoisePlan:
    """The thresholds c_j = round(q_j·2^κ), q_j = p^(2^j)/(1 + p^(2^j)), p = e^(−1/scale), for
    every j with c_j ≥ 1, and the total variation bound 2·(Σ|q_j − c_j/2^κ| + Σ_{j≥K} q_j).

    q_j decreases in j (p^(2^j) falls doubly exponentially), so the first c_j = 0 ends the
    digits; the dropped tail is Σ_{j≥K} q_j ≤ Σ_{i≥0} x^(2^i) ≤ x/(1 − x) for x = p^(2^K)."""
    scale = Fraction(scale)
    if scale <= 0:
        raise ValueError("scale must be positive")
    if precision < 1:
        raise ValueError("precision must be at least 1")
    with decimal.localcontext() as ctx:
        ctx.prec = _DIGITS
        unit = Decimal(2) ** precision
        thresholds: list[int] = []
        error = Decimal(0)
        j = 0
        while True:
            x = (-(Decimal(2 ** j * scale.denominator) / Decimal(scale.numerator))).exp()
            q = x / (1 + x)
            c = int((q * unit).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
            if c == 0:
                error += x / (1 - x)  # the tail from digit j on
                break
            thresholds.append(c)
            error += abs(q - Decimal(c) / unit) + _SLACK
            j += 1
            if j > MAX_DIGITS:
                raise ValueError("noise scale too large for the field")
        total = 2 * (error + _SLACK)
    return NoisePlan(scale, precision, tuple(thresholds), total)


def delta_bound(noises: int, epsilon: Fraction | Decimal | str) -> Decimal:
    """δ ≤ (1 + e^ε)·Σ τ_i for a query whose ideal mechanism is ε-DP and which draws ``noises``
    noises, each within ``TOTAL_VARIATION_PER_NOISE`` of its ideal law (module docstring);
    rounded *up* to 2 significant digits. Depends on the query only, never on the data."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        eps = (Decimal(epsilon.numerator) / Decimal(epsilon.denominator)
               if isinstance(epsilon, Fraction) else Decimal(str(epsilon)))
        delta = (1 + eps.exp()) * noises * TOTAL_VARIATION_PER_NOISE
        if delta == 0:
            return Decimal(0)
        exponent = delta.adjusted() - 1
        return (delta.scaleb(-exponent).to_integral_value(rounding=decimal.ROUND_CEILING)
                .scaleb(exponent))


def noise_scale(epsilon: str | Fraction, sensitivity: int | Fraction) -> Fraction:
    """Δ/ε as an exact fraction (ε given as a decimal string, e.g. "0.5")."""
    eps = Fraction(epsilon)
    if eps <= 0:
        raise ValueError("epsilon must be positive")
    return Fraction(sensitivity) / eps


def variance(scale: Fraction) -> float:
    """Var η = 2p/(1 − p)² for DLap(scale), p = e^(−1/scale) (for tests and docs)."""
    p = math.exp(-1 / float(scale))
    return 2 * p / (1 - p) ** 2
