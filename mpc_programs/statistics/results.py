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

The statistics added for the old system's users (see ``docs/statistics.md``):

* ``mode`` — the first (lowest) histogram bucket with the most inputs:
  ``{"bucket": [lower edge or None, upper edge or None], "count": c}``.
* ``geometric_mean`` — exp(mean ln x); ``harmonic_mean`` — n / Σ 1/x. Both are 0 when
  an input is 0 (``statistics.harmonic_mean``'s rule; the geometric mean's limit).
  They come from fixed-point sums (accurate to about 1e-9 relative) and are
  published to :data:`APPROXIMATE_DIGITS` significant digits.
* ``gini`` — Σ_k (2k+1)·x_(k) / (n·Σx) − 1 over the sorted inputs (k from 0), exact to
  50 digits; ``None`` when Σx = 0 (every input is 0: 0/0).

With a filter, ``n`` is the number of inputs that pass it and every statistic is over
them; when none does, :func:`no_inputs` publishes the count 0, ``None`` for the rest
and a ``no_inputs`` message.
"""

from __future__ import annotations

import decimal
import itertools
import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from mpc_programs.shares.encoding import SCALE, from_units
from mpc_programs.statistics.dp import delta_bound
from mpc_programs.statistics.query import Query

_CTX = decimal.Context(prec=50)
#: Significant digits published for the fixed-point statistics (geometric, harmonic mean).
APPROXIMATE_DIGITS = 10
#: Scales of the opened fixed-point sums (they mirror ``secure_means``; pinned by a test).
LOG_BITS = 120
RECIPROCAL_BITS = 100
NO_INPUTS = "no input matches the filter"


class NotEnoughInputs(ValueError):
    """A statistic that is undefined for this few inputs (e.g. a variance of one value)."""


class TooManyInputs(ValueError):
    """A statistic whose MPC cost is prohibitive at this many inputs (``gini`` sorts)."""


#: ``gini`` ranks the inputs by an oblivious radix sort (``secure_sort``): about 2 s at 1,000
#: inputs and 22 s (0.4 GiB per party) at 10,000 here, linear in N; above this many inputs
#: (a job may set a lower ``gini_max_inputs``) a query asking for it fails before any MPC
#: work with :class:`TooManyInputs`, so that one query cannot hold the parties for minutes.
GINI_MAX_INPUTS = 50_000


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


def dp_ranks(query: Query, n: int) -> dict[str, int]:
    """The rank each DP order statistic publishes (no interpolation): level → round(q·(n−1)).

    ``"median"`` is level 1/2; ``dp_order`` splits ``epsilon.quantiles`` over the distinct ranks.
    """
    levels: list[tuple[str, Fraction]] = []
    if "median" in query.statistics:
        levels.append(("median", Fraction(1, 2)))
    if "quantiles" in query.statistics:
        levels += [(q, Fraction(Decimal(q))) for q in query.quantiles]
    return {name: int(q * (n - 1) + Fraction(1, 2)) for name, q in levels}


def noises_drawn(query: Query, n: int) -> int:
    """How many noises a DP query draws at most (``dp_stats``, ``dp_order``): what its δ is
    charged for. A function of the public query and n only."""
    from mpc_programs.shares.field import DIGIT_BASE
    from mpc_programs.statistics.dp_order import LEVELS
    from mpc_programs.statistics.dp_stats import bivariate_sums

    stats = set(query.statistics)
    count = 1 if stats & {"sum", "mean"} else 0
    count += len(query.histogram_edges) + 1 if "histogram" in stats else 0
    count += 2 if stats & {"variance", "stdev", "pvariance", "pstdev"} else 0
    count += len(bivariate_sums(query.bivariate)) if query.bivariate else 0
    count += len(set(dp_ranks(query, n).values())) * LEVELS * (DIGIT_BASE + 1)
    return count


def finish_private(query: Query, n: int, noisy_sum: int | None,
                   noisy_buckets: list[int] | None,
                   order: dict[str, int] | None = None,
                   moments: tuple[int, int] | None = None,
                   bivariate: dict[str, Any] | None = None) -> dict[str, Any]:
    """Published statistics of a differentially private query (see ``dp_stats``).

    ``bivariate``: the published DP two-column statistics (``dp_stats.publish_dp_bivariate``).

    The noisy values are published as drawn (post-processing cannot weaken DP), except
    that bucket counts below zero are shown as 0. ``privacy`` records the mechanism, ε
    per statistic and their total (sequential composition), and the δ that sampling the
    noise inside MPC adds (``dp.delta_bound``), so readers can judge them.
    """
    assert query.privacy is not None
    out: dict[str, Any] = {}
    for name in query.statistics:
        if name == "count":
            out["count"] = n
        elif name == "sum":
            out["sum"] = _dec(_need(noisy_sum))
        elif name == "mean":
            out["mean"] = _dec(Fraction(_need(noisy_sum), n))
        elif name == "histogram":
            out["histogram"] = {"edges": list(query.histogram_edges),
                                "counts": [max(0, c) for c in _need(noisy_buckets)]}
        elif name in ("variance", "stdev", "pvariance", "pstdev"):
            noisy_total, noisy_squares = _need(moments)
            # n·Σy² − (Σy)² from the noisy aggregates, never below 0 (post-processing)
            numerator = max(n * noisy_squares - noisy_total * noisy_total, 0)
            sample = name in ("variance", "stdev")
            if sample and n < 2:
                out[name] = None
                continue
            var_units = Fraction(numerator, n * (n - 1) if sample else n * n)
            out[name] = _dec(var_units / SCALE) if name in ("variance", "pvariance") \
                else _sqrt(var_units)
        elif name == "median":
            out["median"] = _dec(_need(order)["median"])
        elif name == "quantiles":
            out["quantiles"] = {q: _dec(_need(order)[q]) for q in query.quantiles}
        elif name in ("covariance", "correlation", "linear_regression"):
            out[name] = _need(bivariate)[name]
    epsilon = dict(query.privacy.epsilon)
    epsilon_total = sum(Decimal(v) for v in epsilon.values())
    out["privacy"] = {
        "mechanism": "discrete Laplace noise sampled jointly inside MPC from shared random bits"
                     + ("; order statistics by noisy counts at each digit of the radix search"
                        if order else "")
                     + ("; covariance, correlation and regression from noisy clipped sums "
                        "Σx, Σy, Σxy, Σx², Σy² (noisy sufficient statistics)" if bivariate else ""),
        "epsilon": epsilon,
        "epsilon_total": str(epsilon_total),
        "delta": str(delta_bound(noises_drawn(query, n), epsilon_total)),
        **({"clip": query.privacy.clip} if query.privacy.clip is not None else {}),
        **({"clip_columns": dict(query.privacy.clip_columns)} if query.privacy.clip_columns
           else {}),
    }
    return out


def no_inputs(query: Query, message: str = NO_INPUTS, count: int | None = 0) -> dict[str, Any]:
    """The published result of a query whose filter matches no input (or too few: then
    ``count`` is how many and ``message`` says why the rest is withheld)."""
    out: dict[str, Any] = {name: count if name == "count" else None for name in query.statistics}
    out["no_inputs"] = message
    return out


def finish(query: Query, n: int, total: int | None, variance_numerator: int | None,
           order_statistics: dict[int, int], below_edges: Iterable[int] | None, *,
           mode: tuple[int, int] | None = None, any_zero: bool | None = None,
           log_sum: int | None = None, reciprocal_sum: int | None = None,
           gini: tuple[int, int] | None = None) -> dict[str, Any]:
    """Published statistics (decimal strings, exact or to 50 digits) from opened aggregates.

    ``n`` is the number of inputs the statistics are over (after the filter, if any);
    ``mode`` is (bucket index, count); ``any_zero``/``log_sum``/``reciprocal_sum`` are
    what ``secure_means`` opened; ``gini`` is (Σ_k (2k+1−n)·x_(k), Σx).
    """
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
                "counts": [b - a for a, b in itertools.pairwise(bounds)],
            }
        elif name == "mode":
            index, count = _need(mode)
            out["mode"] = mode_bucket(query, index, count)
        elif name == "geometric_mean":
            if _need(any_zero):
                out[name] = "0"
            else:
                with decimal.localcontext(_CTX):
                    mean_log = Decimal(_need(log_sum)) / (Decimal(n) * (1 << LOG_BITS))
                    out[name] = approximate(mean_log.exp() / SCALE)
        elif name == "harmonic_mean":
            if _need(any_zero):
                out[name] = "0"
            else:
                with decimal.localcontext(_CTX):
                    units = Decimal(n) * (1 << RECIPROCAL_BITS) / Decimal(_need(reciprocal_sum))
                    out[name] = approximate(units / SCALE)
        elif name == "gini":
            numerator, gini_total = _need(gini)
            out[name] = ratio(Fraction(numerator, n * gini_total)) if gini_total else None
    return out


def mode_bucket(query: Query, index: int, count: int) -> dict[str, Any]:
    """The published form of the modal bucket: its edges (None = unbounded) and count."""
    edges: list[str | None] = [None, *query.histogram_edges, None]
    return {"bucket": [edges[index], edges[index + 1]], "count": count}


def approximate(value: Decimal) -> str:
    """A fixed-point result rounded to :data:`APPROXIMATE_DIGITS` significant digits."""
    if value == 0:
        return "0"
    with decimal.localcontext(decimal.Context(prec=APPROXIMATE_DIGITS)):
        return f"{+value:f}"


def ratio(value: Fraction) -> str:
    """A dimensionless rational to 50 significant digits."""
    with decimal.localcontext(_CTX):
        return str(Decimal(value.numerator) / Decimal(value.denominator))


def _interpolate(n: int, level: Fraction, order_statistics: dict[int, int]) -> Fraction:
    lo, hi, w = quantile_ranks(n, level)
    x_lo, x_hi = order_statistics[lo], order_statistics[hi]
    return x_lo + w * (x_hi - x_lo)


def _need(value: Any) -> Any:
    if value is None:
        raise ValueError("an aggregate the query needs was not computed")
    return value
