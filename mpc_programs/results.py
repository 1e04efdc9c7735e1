"""From opened aggregates to published statistics (pure, exact arithmetic).

The MPC programs open as little as each statistic needs — the sum, the variance
numerator ``n*Σx² - (Σx)²``, the order statistics a quantile interpolates between,
and counts below histogram edges — and this module turns those into the published
values with exact rational arithmetic, so no precision is lost after the MPC.

Definitions (the plaintext reference in ``plaintext.py`` uses the same ones):
variance/stdev are the sample versions (n - 1), pvariance/pstdev the population
ones; a quantile at level q is numpy's default "linear" method (Hyndman & Fan type
7, = ``statistics.quantiles(method="inclusive")``): with h = (n-1)q it is
x[floor h] + (h - floor h)(x[ceil h] - x[floor h]) over the sorted inputs; the median
is the 0.5 quantile. Histogram buckets are (-inf, e0), [e0, e1), ..., [e_last, inf).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from mpc_programs.encoding import SCALE, from_units
from mpc_programs.query import Query

_CTX = decimal.Context(prec=50)


class NotEnoughInputs(ValueError):
    """A statistic that is undefined for this few inputs (e.g. a variance of one value)."""


def quantile_ranks(n: int, level: Fraction) -> tuple[int, int, Fraction]:
    """(lower rank, upper rank, weight of the upper one) for a quantile level."""
    h = (n - 1) * level
    lo = math.floor(h)
    hi = math.ceil(h)
    return lo, hi, h - lo


def ranks_needed(query: Query, n: int) -> list[int]:
    """The 0-based order statistics the query needs opened."""
    ranks: set[int] = set()
    stats = set(query.statistics)
    if "min" in stats:
        ranks.add(0)
    if "max" in stats:
        ranks.add(n - 1)
    levels = list(query.quantile_levels()) if "quantiles" in stats else []
    if "median" in stats:
        levels.append(Fraction(1, 2))
    for q in levels:
        lo, hi, _ = quantile_ranks(n, q)
        ranks.update((lo, hi))
    return sorted(ranks)


def _dec(units: int | Fraction) -> str:
    if isinstance(units, Fraction) and units.denominator == 1:
        units = units.numerator
    with decimal.localcontext(_CTX):
        return str(from_units(units))


def _sqrt(units_squared: Fraction) -> str:
    with decimal.localcontext(_CTX):
        d = Decimal(units_squared.numerator) / Decimal(units_squared.denominator)
        return str(d.sqrt() / SCALE)


def finish(query: Query, n: int, total: int | None, variance_numerator: int | None,
           order_statistics: dict[int, int], below_edges: Iterable[int] | None) -> dict[str, Any]:
    """Published statistics (decimal strings, exact or to 50 digits) from opened aggregates."""
    out: dict[str, Any] = {}
    stats = query.statistics
    if n == 0:
        raise NotEnoughInputs("no inputs")
    for name in stats:
        if name == "count":
            out["count"] = n
        elif name == "sum":
            out["sum"] = _dec(_need(total))
        elif name == "mean":
            out["mean"] = _dec(Fraction(_need(total), n))
        elif name in ("variance", "stdev"):
            if n < 2:
                out[name] = None  # undefined for one input, as in statistics.variance
                continue
            var_units = Fraction(_need(variance_numerator), n * (n - 1))  # in units²
            out[name] = _dec(var_units / SCALE) if name == "variance" else _sqrt(var_units)
        elif name in ("pvariance", "pstdev"):
            var_units = Fraction(_need(variance_numerator), n * n)
            out[name] = _dec(var_units / SCALE) if name == "pvariance" else _sqrt(var_units)
        elif name == "min":
            out["min"] = _dec(order_statistics[0])
        elif name == "max":
            out["max"] = _dec(order_statistics[n - 1])
        elif name == "median":
            out["median"] = _dec(_interpolate(n, Fraction(1, 2), order_statistics))
        elif name == "quantiles":
            out["quantiles"] = {text: _dec(_interpolate(n, level, order_statistics))
                                for text, level in zip(query.quantiles, query.quantile_levels())}
        elif name == "histogram":
            below = list(_need(below_edges))
            bounds = [0, *below, n]
            out["histogram"] = {
                "edges": list(query.histogram_edges),
                "counts": [b - a for a, b in zip(bounds, bounds[1:])],
            }
    return out


def _interpolate(n: int, level: Fraction, order_statistics: dict[int, int]) -> Fraction:
    lo, hi, w = quantile_ranks(n, level)
    x_lo, x_hi = order_statistics[lo], order_statistics[hi]
    return x_lo + w * (x_hi - x_lo)


def _need(value: Any) -> Any:
    if value is None:
        raise ValueError("an aggregate the query needs was not computed")
    return value
