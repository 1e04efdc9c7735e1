"""Plaintext reference statistics — the truth the MPC results are checked against.

Deliberately independent of ``results.py``'s arithmetic (only the output formatting
is shared): it sorts, sums and interpolates in the clear with exact fractions.
Used by tests, the benchmark and the demo; never by a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from mpc_programs import results
from mpc_programs.query import Query


def statistics(query: Query, units: Sequence[int]) -> dict[str, Any]:
    """Published statistics of the plaintext inputs ``units`` (1e-8 units)."""
    xs = sorted(units)
    n = len(xs)
    if n == 0:
        raise results.NotEnoughInputs("no inputs")
    total = sum(xs)
    mean = Fraction(total, n)
    ss = sum((x - mean) ** 2 for x in xs)  # two-pass, exact
    out: dict[str, Any] = {}
    for name in query.statistics:
        if name == "count":
            out[name] = n
        elif name == "sum":
            out[name] = results._dec(total)
        elif name == "mean":
            out[name] = results._dec(mean)
        elif name in ("variance", "stdev"):
            if n < 2:
                out[name] = None
                continue
            var = ss / (n - 1)
            out[name] = (results._dec(var / results.SCALE) if name == "variance"
                         else results._sqrt(var))
        elif name in ("pvariance", "pstdev"):
            var = ss / n
            out[name] = (results._dec(var / results.SCALE) if name == "pvariance"
                         else results._sqrt(var))
        elif name == "min":
            out[name] = results._dec(xs[0])
        elif name == "max":
            out[name] = results._dec(xs[-1])
        elif name == "median":
            out[name] = results._dec(_quantile(xs, Fraction(1, 2)))
        elif name == "quantiles":
            out[name] = {t: results._dec(_quantile(xs, q))
                         for t, q in zip(query.quantiles, query.quantile_levels())}
        elif name == "histogram":
            edges = query.edge_units()
            bounds = [float("-inf"), *edges, float("inf")]
            out[name] = {"edges": list(query.histogram_edges),
                         "counts": [sum(1 for x in xs if lo <= x < hi)
                                    for lo, hi in zip(bounds, bounds[1:])]}
    return out


def _quantile(xs: Sequence[int], q: Fraction) -> Fraction:
    h = (len(xs) - 1) * q
    lo = h.numerator // h.denominator
    hi = lo if h == lo else lo + 1
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])
