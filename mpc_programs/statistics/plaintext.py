"""Plaintext reference statistics — the truth the MPC results are checked against.

Deliberately independent of ``results.py``'s arithmetic (only the output formatting
is shared): it sorts, sums and interpolates in the clear with exact fractions.
Used by tests, the benchmark and the demo; never by a server.
"""

from __future__ import annotations

import dataclasses
import decimal
import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from mpc_programs.statistics import results
from mpc_programs.statistics.query import PRIMARY_COLUMN, Query


def table_statistics(query: Query, table: Sequence[Mapping[str, int]],
                     primary: str = PRIMARY_COLUMN) -> dict[str, Any]:
    """Published statistics of a pool with several columns: one dict per input,
    {column: units}, a missing value being an absent key (see ``query`` on missing values).
    Two-column statistics are exact here (Python's ``statistics`` on Fractions)."""
    used = query.used_columns(primary)
    rows = [row for row in table if all(c in row for c in used)]
    for column, predicate in query.filters(primary):
        rows = [row for row in rows if predicate.matches(row[column])]
    if not rows:
        return results.no_inputs(query)
    one_column = [name for name in query.statistics if name not in query.bivariate]
    out: dict[str, Any] = {}
    if one_column:
        plain = dataclasses.replace(query, statistics=tuple(one_column), filter=None,
                                    column_filters=())
        out.update(statistics(plain, [row[query.own_column(primary)] for row in rows]))
    if query.bivariate:
        x_name, y_name = query.columns  # type: ignore[misc]
        xs = [Fraction(row[x_name], results.SCALE) for row in rows]
        ys = [Fraction(row[y_name], results.SCALE) for row in rows]
        out.update(bivariate(query.bivariate, xs, ys))
        if "count" in query.statistics:
            out["count"] = len(rows)
    return {name: out[name] for name in query.statistics}


def bivariate(names: Sequence[str], xs: Sequence[Fraction], ys: Sequence[Fraction]
              ) -> dict[str, Any]:
    """Covariance, correlation and linear regression exactly as Python's ``statistics``
    defines them (None where it raises: n < 2, or a constant column), to 50 digits —
    computed with Fractions here, because ``statistics`` returns floats for the last two."""
    n = len(xs)
    out: dict[str, Any] = dict.fromkeys(names)
    if n < 2:
        return out
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    for name in names:
        if name == "covariance":
            out[name] = results.ratio(sxy / (n - 1))
        elif name == "correlation" and sxx and syy:
            with decimal.localcontext(decimal.Context(prec=60)):
                root = (Decimal(sxx.numerator) / sxx.denominator
                        * Decimal(syy.numerator) / syy.denominator).sqrt()
                value = Decimal(sxy.numerator) / sxy.denominator / root
            out[name] = results.ratio(Fraction(value))
        elif name == "linear_regression" and sxx:
            slope = sxy / sxx
            out[name] = {"slope": results.ratio(slope), "intercept": results.ratio(my - slope * mx)}
    return out


def statistics(query: Query, units: Sequence[int]) -> dict[str, Any]:
    """Published statistics of the plaintext inputs ``units`` (1e-8 units)."""
    if query.filter is not None:
        units = [x for x in units if query.filter.matches(x)]
        if not units:
            return results.no_inputs(query)
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
                                    for lo, hi in itertools.pairwise(bounds)]}
        elif name == "mode":
            edges = query.edge_units()
            counts = [sum(1 for x in xs if (k == 0 or edges[k - 1] <= x)
                          and (k == len(edges) or x < edges[k])) for k in range(len(edges) + 1)]
            index = counts.index(max(counts))  # the first (lowest) modal bucket
            out[name] = results.mode_bucket(query, index, counts[index])
        elif name == "geometric_mean":
            if xs[0] == 0:
                out[name] = "0"
            else:
                with decimal.localcontext(decimal.Context(prec=60)):
                    mean_log = sum((Decimal(x).ln() for x in xs), Decimal(0)) / n
                    out[name] = results.approximate(mean_log.exp() / results.SCALE)
        elif name == "harmonic_mean":
            if xs[0] == 0:
                out[name] = "0"
            else:
                hm = Fraction(n) / sum(Fraction(1, x) for x in xs) / results.SCALE
                with decimal.localcontext(decimal.Context(prec=60)):
                    out[name] = results.approximate(Decimal(hm.numerator) / hm.denominator)
        elif name == "gini":
            # the reference's definition, over the sorted values (k from 0)
            out[name] = (results.ratio(Fraction(sum((2 * k + 1) * x for k, x in enumerate(xs)),
                                                n * total) - 1)
                         if total else None)
    return out


def _quantile(xs: Sequence[int], q: Fraction) -> Fraction:
    h = (len(xs) - 1) * q
    lo = h.numerator // h.denominator
    hi = lo if h == lo else lo + 1
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])
