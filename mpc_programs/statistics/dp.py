"""Differential-privacy noise generated jointly by the three parties, added before opening.

Mechanism: the discrete Laplace (two-sided geometric) mechanism. For a statistic with
L1 sensitivity Δ (how much one provider joining or leaving can change it), adding
noise with P[η = k] ∝ exp(-ε|k|/Δ) to the integer aggregate is ε-differentially
private (Ghosh, Roughgarden & Sundararajan 2009). Sampled exactly, with integers
only, by Canonne, Kamath & Steinke's algorithm ("The Discrete Gaussian for
Differential Privacy", NeurIPS 2020, Algorithm 2) — no floating point anywhere.

Distributed generation: *each* party samples its own η_i ~ DLap(Δ/ε) and secret-
shares it; the parties add Σ η_i to the secret aggregate and open only the sum.
Adding independent noise to an ε-DP output keeps it ε-DP (post-processing), so:
- against consumers the output carries three independent noises (ε-DP, variance 3×
  what a trusted curator would add);
- against any one party — honest majority, t = 1 — the two other parties' noises are
  unknown to it, and each alone makes the output ε-DP. No party ever holds the total
  noise: it exists only as shares inside MPC, and nothing about it is logged or stored.

Cost: one input round (every party shares one integer per noised value), no
multiplications.
"""

from __future__ import annotations

import secrets
from fractions import Fraction


def _bernoulli(p: Fraction) -> bool:
    """True with probability ``p`` (0 <= p <= 1), exactly."""
    return secrets.randbelow(p.denominator) < p.numerator


def _bernoulli_exp_minus(gamma: Fraction) -> bool:
    """True with probability exp(-gamma), gamma >= 0 (CKS20, Algorithm 1)."""
    if gamma <= 1:
        k = 1
        while _bernoulli(gamma / k):
            k += 1
        return k % 2 == 1
    for _ in range(int(gamma)):
        if not _bernoulli_exp_minus(Fraction(1)):
            return False
    return _bernoulli_exp_minus(gamma - int(gamma))


def discrete_laplace(scale: Fraction) -> int:
    """One sample with P[k] ∝ exp(-|k|/scale) (CKS20, Algorithm 2); ``scale = Δ/ε``."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    t, s = scale.numerator, scale.denominator  # the algorithm samples Lap_Z(t/s)
    while True:
        u = secrets.randbelow(t)
        if not _bernoulli_exp_minus(Fraction(u, t)):
            continue
        v = 0
        while _bernoulli_exp_minus(Fraction(1)):
            v += 1
        x = u + t * v
        y = x // s
        negative = secrets.randbelow(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def noise_scale(epsilon: str | Fraction, sensitivity: int | Fraction) -> Fraction:
    """Δ/ε as an exact fraction (ε given as a decimal string, e.g. "0.5")."""
    eps = Fraction(epsilon)
    if eps <= 0:
        raise ValueError("epsilon must be positive")
    return Fraction(sensitivity) / eps
