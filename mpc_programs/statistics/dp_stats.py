"""Differentially private statistics: noise added inside MPC before anything is opened.

Supported (the others are exact only; asking for DP on them is a query error):

* ``sum`` and ``mean`` over values clipped to a public bound C (``clip``): Σ min(x_i, C)
  has L1 sensitivity C when one provider joins or leaves. Clipping is computed
  inside MPC: b_i = [x_i < C] from the one-hot digits (``below_indicators``, ≤ 14
  rounds of N products), then Σ min(x_i, C) = x·b + C·(n − Σb) (one inner product).
  The mean published is the noisy sum divided by the public n (post-processing).
* ``histogram``: the bucket counts, sensitivity 1 (a provider sits in exactly one
  bucket), computed as secret counts below each edge and differenced in MPC.
* ``covariance``, ``correlation``, ``linear_regression`` (``epsilon.bivariate``): noisy
  clipped sufficient statistics, see :func:`open_noisy_bivariate_sums`.

Noise: one discrete Laplace noise of scale Δ/ε per noised value, sampled *jointly inside
MPC* from verified random bits (``dp_noise.joint_noise``; the distribution and its (ε, δ)
accounting in ``dp.py``) and added to the secret aggregate; only the noisy aggregate is
opened, after ``product_check`` passed. No party chooses, shifts or learns the noise: it
exists only as shares, and a party that deviates while it is drawn makes the run abort.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from mpc_programs.statistics.dp_noise import joint_noise
from mpc_programs.shares.field import PRIME
from mpc_programs.statistics.secure_stats import (FIELD, SharedInputs, _multiply, _output,
                                                  _reshare, below_indicators, counts_below,
                                                  local_array, secint)


async def open_noisy_clipped_sum(inputs: SharedInputs, clip_units: int,
                                 scale: Fraction) -> int:
    """Σ min(x_i, C) + noise, opened (``scale`` = C/ε)."""
    below = (await below_indicators(inputs, [clip_units]))[clip_units]
    kept = local_array(below, True) @ local_array(inputs.values(), True)  # Σ x_i·[x_i < C]
    n_below = int(np.sum(below) % PRIME)
    clipped = kept + secint(FIELD((clip_units * (inputs.n - n_below)) % PRIME))
    noise = (await joint_noise([scale]))[0]
    total = clipped + secint(FIELD(int(noise)))
    return _signed(int(await _output(total, "dp sum")))


async def clipped_values(inputs: SharedInputs, clip_units: int) -> np.ndarray:
    """Local shares of y_i = min(x_i, C): x·b + C·(1 − b), b_i = [x_i < C] (N products)."""
    below = (await below_indicators(inputs, [clip_units]))[clip_units]
    kept = await _multiply(below, inputs.values())  # x_i·b_i
    return (kept + clip_units * (1 - below)) % PRIME


#: The clipped sums each DP two-column statistic is computed from, and their L1 sensitivity
#: (one provider joining or leaving; values are >= 0, so Σxy moves by at most C_x·C_y).
BIVARIATE_SUMS = {"covariance": ("x", "y", "xy"),
                  "correlation": ("x", "y", "xy", "xx", "yy"),
                  "linear_regression": ("x", "y", "xy", "xx")}
_SUM_ORDER = ("x", "y", "xy", "xx", "yy")


def bivariate_sums(wanted: Sequence[str]) -> list[str]:
    """The sums the wanted statistics need (``epsilon.bivariate`` is split evenly over them)."""
    need = {s for name in wanted for s in BIVARIATE_SUMS.get(name, ())}
    return [s for s in _SUM_ORDER if s in need]


def bivariate_sensitivity(name: str, clip_x: int, clip_y: int) -> int:
    return {"x": clip_x, "y": clip_y, "xy": clip_x * clip_y, "xx": clip_x * clip_x,
            "yy": clip_y * clip_y}[name]


async def open_noisy_bivariate_sums(x: SharedInputs, y: SharedInputs, clip_x: int, clip_y: int,
                                    epsilon: Fraction, wanted: Sequence[str]) -> dict[str, int]:
    """Noisy clipped sufficient statistics Σx, Σy, Σxy, Σx², Σy² (those ``wanted`` needs), opened.

    Method: noisy sufficient statistics ("noisy moments"; Dwork & Lei, "Differential Privacy
    and Robust Statistics", STOC 2009, and the standard perturbed-moments approach to private
    least squares). Each value is clipped to its column's public bound (x̃ = min(x, C_x),
    ỹ = min(y, C_y), inside MPC as for the DP sum); each needed sum S_k gets discrete Laplace
    noise of scale Δ_k/(ε/k) with Δ = C_x, C_y, C_x·C_y, C_x², C_y² (one provider joining or
    leaving changes each sum by at most that, values being >= 0), η sampled jointly as for
    every DP statistic here. Only the noisy sums are opened; covariance, correlation,
    slope and intercept are computed from them in the clear (:func:`publish_dp_bivariate`):
    post-processing, no further privacy cost.

    ε accounting: the k <= 5 noisy sums are k mechanisms of ε/k each over the same inputs,
    composed sequentially: ε = ``epsilon.bivariate`` in total, whichever of the three
    statistics are asked (they share the sums). n is public by design (as for every DP query).

    Cost: clipping (≤ 14 rounds of N products per column, the two columns one after the
    other), one resharing of the ≤ 3 inner products, the noise (``dp_noise``), one opening.
    """
    names = bivariate_sums(wanted)
    cx = await clipped_values(x, clip_x)
    cy = await clipped_values(y, clip_y)
    shares = {"x": int(np.sum(cx)) % PRIME, "y": int(np.sum(cy)) % PRIME}
    products = {"xy": (cx, cy), "xx": (cx, cx), "yy": (cy, cy)}
    degree2 = [s for s in names if s in products]
    if degree2:
        local = np.array([int(np.dot(*products[s])) % PRIME for s in degree2], dtype=object)
        shares.update(zip(degree2, (int(v) for v in await _reshare(local))))
    share = epsilon / len(names)
    noise = await joint_noise([Fraction(bivariate_sensitivity(s, clip_x, clip_y)) / share
                               for s in names])
    noisy = np.array([(shares[s] + int(e)) % PRIME for s, e in zip(names, noise)], dtype=object)
    opened = await _output(local_array(noisy, True), "dp bivariate")
    return {s: _signed(int(v)) for s, v in zip(names, opened)}


def publish_dp_bivariate(sums: dict[str, int], n: int, wanted: Sequence[str]) -> dict[str, Any]:
    """Covariance, correlation, regression from the noisy sums (post-processing, in the clear).

    C = n·Sxy − Sx·Sy, A = n·Sxx − Sx², B = n·Syy − Sy² (noisy); covariance C/(n(n−1)),
    correlation C/sqrt(A·B) clamped to [−1, 1], slope C/A, intercept (Sy − slope·Sx)/n;
    a noisy A or B <= 0 (the noise swamped the spread) publishes None where it is needed.
    Published exactly as the exact statistics are (``secure_bivariate.publish_bivariate``).
    """
    from mpc_programs.statistics.secure_bivariate import (CORRELATION_BITS, BivariateOpened,
                                               intercept_scaling, publish_bivariate)

    sx, sy = sums["x"], sums["y"]
    c = n * sums["xy"] - sx * sy
    a = n * sums["xx"] - sx * sx if "xx" in sums else 0
    b = n * sums["yy"] - sy * sy if "yy" in sums else 0
    correlation = slope = intercept = shift = None
    if "correlation" in wanted and a > 0 and b > 0:
        root = math.isqrt((a * b) << (2 * CORRELATION_BITS))  # sqrt(AB)·2^F, rounded down
        r = Fraction(c << (2 * CORRELATION_BITS), max(root, 1))
        limit = 1 << CORRELATION_BITS
        correlation = max(-limit, min(limit, round(r)))
    if "linear_regression" in wanted and a > 0:
        slope = Fraction(c, a)
        shift, factor = intercept_scaling(slope)
        intercept = sy * (1 << shift) - factor * sx
    opened = BivariateOpened(c, correlation, slope, intercept, shift)
    return publish_bivariate(opened, n, [name for name in wanted if name in BIVARIATE_SUMS])


async def open_noisy_clipped_moments(inputs: SharedInputs, clip_units: int, scale_sum: Fraction,
                                     scale_squares: Fraction) -> tuple[int, int]:
    """(Σ y_i + noise, Σ y_i² + noise) for y_i = min(x_i, C), opened (for the DP variance).

    y = x·b + C·(1 − b) with b_i = [x_i < C] (N products for x·b), then Σy (local) and y·y
    (one inner product). Sensitivities C and C²; ``scale_*`` = sensitivity / ε_part.
    """
    clipped = await clipped_values(inputs, clip_units)  # local shares of y_i
    total = int(np.sum(clipped) % PRIME)
    squares = local_array(clipped, True) @ local_array(clipped, True)
    noise = await joint_noise([scale_sum, scale_squares])
    noisy_total = secint(FIELD((total + int(noise[0])) % PRIME))
    noisy_squares = squares + secint(FIELD(int(noise[1])))
    s, q = await _output([noisy_total, noisy_squares], "dp moments")
    return _signed(int(s)), _signed(int(q))


async def open_noisy_histogram(inputs: SharedInputs, edges: Sequence[int],
                               scale: Fraction) -> list[int]:
    """Bucket counts (-inf, e0), [e0, e1), ..., [e_last, inf) + noise each, opened."""
    below = await counts_below(inputs, edges)  # local shares, secret
    bounds = [0, *[int(v) for v in below], inputs.n]
    buckets = np.array([(b - a) % PRIME for a, b in zip(bounds, bounds[1:])], dtype=object)
    noise = await joint_noise([scale] * len(buckets))
    opened = await _output(local_array((buckets + noise) % PRIME, True), "dp histogram")
    return [_signed(int(c)) for c in opened]


def _signed(value: int) -> int:
    value %= PRIME
    return value - PRIME if value > PRIME // 2 else value
