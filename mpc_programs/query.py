"""Query specs: which statistics to compute over which inputs, validated before any MPC run.

A query is a small JSON object; every field is optional::

    {"statistics": ["count", "mean", "median", "quantiles", "histogram", "mode",
                    "geometric_mean", "harmonic_mean", "gini"],
     "quantiles": ["0.25", "0.75", "0.9"],
     "histogram_edges": ["0.1", "1", "10"],
     "filter": [[">", "1"], ["<=", "1000"]]}

* ``statistics`` — names from :data:`STATISTICS` (default: the foundation set
  :data:`DEFAULT_STATISTICS`). ``docs/statistics.md`` lists each one with its cost and
  what it opens.
* ``quantiles`` — levels in [0, 1] as exact decimal strings.
* ``histogram_edges`` — strictly increasing bucket edges in the input's unit (ETH);
  ``histogram`` and ``mode`` both use them (buckets (-inf, e0), [e0, e1), ..., [e_last, inf)).
* ``privacy`` — differential privacy (``dp_stats``): ``{"epsilon": {"sum": "1",
  "histogram": "0.5"}, "clip": "1000"}`` adds jointly generated discrete Laplace noise
  to the sum (sensitivity ``clip``: values are clipped to it; the mean is the noisy sum
  over the public count) and to each histogram bucket (sensitivity 1). A DP query may
  only ask for ``count`` (public by design), ``sum``, ``mean`` and ``histogram``, each
  noised statistic needs its ε, and it cannot be combined with a filter.
* ``filter`` — a conjunction of public comparisons ``[op, value]`` with op one of
  ``< <= > >= == !=``: every statistic is computed over the inputs whose (secret) value
  satisfies all of them, without revealing which inputs those are. Values are
  decimals with at most 8 places, 0 <= value <= the largest encodable balance.

Decimal fields accept numbers too (read through ``str``). Every error is a
:class:`QueryError` whose message names the field to fix.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from mpc_programs.encoding import MAX_UNITS, EncodingError, to_units

#: The foundation statistics: what a query computes when it names none.
DEFAULT_STATISTICS = (
    "count", "sum", "mean", "variance", "stdev", "pvariance", "pstdev",
    "min", "max", "median", "quantiles", "histogram",
)
#: Every statistic a query may name.
STATISTICS = DEFAULT_STATISTICS + ("mode", "geometric_mean", "harmonic_mean", "gini")
DEFAULT_QUANTILES = ("0.25", "0.75", "0.9")
DEFAULT_EDGES = ("0.01", "0.1", "1", "10", "100")
MAX_QUANTILES = 32
MAX_EDGES = 64
MAX_FILTER_CLAUSES = 8
FILTER_OPS = ("<", "<=", ">", ">=", "==", "!=")
#: A non-zero decimal below 1e-8 cannot be a balance (checked before any exact arithmetic).
DECIMALS_LIMIT = 8
#: Statistics that need bucket edges.
_NEED_EDGES = ("histogram", "mode")
#: What a differentially private query may ask for, and which ε covers each.
DP_STATISTICS = {"count": None, "sum": "sum", "mean": "sum", "histogram": "histogram"}
MAX_EPSILON = Decimal(10)


@dataclass(frozen=True)
class Privacy:
    """Per-mechanism ε (exact decimal strings) and the clipping bound for sums (ETH)."""

    epsilon: tuple[tuple[str, str], ...]
    clip: str | None = None

    def epsilon_of(self, mechanism: str) -> Fraction:
        return Fraction(Decimal(dict(self.epsilon)[mechanism]))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"epsilon": dict(self.epsilon)}
        if self.clip is not None:
            out["clip"] = self.clip
        return out


class QueryError(ValueError):
    """A query spec that cannot be run; the message says what to fix."""


@dataclass(frozen=True)
class Filter:
    """A conjunction of public comparisons ``x op value`` (value in 1e-8 units).

    ``interval()`` reduces it to ``lo <= x < hi`` minus the ``!=`` points: the form
    the MPC evaluates (each bound is one public-threshold test, see ``secure_stats``).
    """

    clauses: tuple[tuple[str, str], ...]

    def unit_clauses(self) -> list[tuple[str, int]]:
        return [(op, to_units(value)) for op, value in self.clauses]

    def interval(self) -> tuple[int, int, tuple[int, ...]]:
        """(lo, hi, excluded): the matching set is {x : lo <= x < hi, x not in excluded}.

        0 <= lo and hi <= MAX_UNITS + 1; an empty interval has lo >= hi. ``excluded``
        holds only points inside [lo, hi), sorted.
        """
        lo, hi = 0, MAX_UNITS + 1
        excluded: set[int] = set()
        for op, v in self.unit_clauses():
            if op == "<":
                hi = min(hi, v)
            elif op == "<=":
                hi = min(hi, v + 1)
            elif op == ">":
                lo = max(lo, v + 1)
            elif op == ">=":
                lo = max(lo, v)
            elif op == "==":
                lo, hi = max(lo, v), min(hi, v + 1)
            else:  # "!="
                excluded.add(v)
        return lo, hi, tuple(sorted(v for v in excluded if lo <= v < hi))

    def matches(self, units: int) -> bool:
        """The predicate in the clear (plaintext reference and tests)."""
        lo, hi, excluded = self.interval()
        return lo <= units < hi and units not in excluded

    def to_json(self) -> list[list[str]]:
        return [[op, value] for op, value in self.clauses]


@dataclass(frozen=True)
class Query:
    statistics: tuple[str, ...] = DEFAULT_STATISTICS
    quantiles: tuple[str, ...] = DEFAULT_QUANTILES
    histogram_edges: tuple[str, ...] = DEFAULT_EDGES
    filter: Filter | None = None
    privacy: Privacy | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def quantile_levels(self) -> list[Fraction]:
        return [Fraction(Decimal(q)) for q in self.quantiles]

    def edge_units(self) -> list[int]:
        return [to_units(e) for e in self.histogram_edges]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statistics": list(self.statistics),
                               "quantiles": list(self.quantiles),
                               "histogram_edges": list(self.histogram_edges)}
        if self.filter is not None:
            out["filter"] = self.filter.to_json()
        if self.privacy is not None:
            out["privacy"] = self.privacy.to_json()
        return out


def _decimal_string(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QueryError(f"{what} must be a decimal number, got {value!r}")
    text = str(value).strip()
    try:
        d = Decimal(text)
    except InvalidOperation as exc:
        raise QueryError(f"{what} is not a decimal number: {value!r}") from exc
    if not d.is_finite():
        raise QueryError(f"{what} must be finite: {value!r}")
    return text


def _units(text: str, what: str) -> int:
    """``to_units`` with every failure as a QueryError (extreme exponents included)."""
    d = Decimal(text)
    if d != 0 and not -DECIMALS_LIMIT <= d.adjusted() <= 20:
        problem = "too large" if d.adjusted() > 0 else "more than 8 decimal places"
        raise QueryError(f"bad {what}: {problem}: {text!r}")
    try:
        return to_units(text)
    except (EncodingError, ArithmeticError) as exc:
        raise QueryError(f"bad {what}: {exc}") from exc


def _parse_filter(spec: object) -> Filter:
    if not isinstance(spec, list) or not spec or len(spec) > MAX_FILTER_CLAUSES:
        raise QueryError(f"'filter' must be a non-empty list of at most {MAX_FILTER_CLAUSES} "
                         "[op, value] pairs, e.g. [[\">\", \"1\"]]")
    clauses = []
    for clause in spec:
        if not isinstance(clause, list) or len(clause) != 2:
            raise QueryError(f"a filter clause must be a pair [op, value], got {clause!r}")
        op, value = clause
        if op not in FILTER_OPS:
            raise QueryError(f"unknown filter operator {op!r}; known: {' '.join(FILTER_OPS)}")
        text = _decimal_string(value, "a filter value")
        _units(text, "filter value")
        clauses.append((op, text))
    return Filter(tuple(clauses))


def parse_query(spec: object) -> Query:
    """Validate a JSON query spec; raises :class:`QueryError` with a clear message."""
    if spec is None:
        return Query()
    if not isinstance(spec, dict):
        raise QueryError("a query must be a JSON object")
    unknown_keys = set(spec) - {"statistics", "quantiles", "histogram_edges", "filter", "privacy"}
    if unknown_keys:
        raise QueryError(f"unknown query field(s): {', '.join(sorted(unknown_keys))}")
    stats = spec.get("statistics", list(DEFAULT_STATISTICS))
    if not isinstance(stats, list) or not stats or not all(isinstance(s, str) for s in stats):
        raise QueryError("'statistics' must be a non-empty list of names")
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown:
        raise QueryError(f"unknown statistic {unknown[0]!r}; known: {', '.join(STATISTICS)}")
    quantiles = spec.get("quantiles", list(DEFAULT_QUANTILES))
    if not isinstance(quantiles, list) or len(quantiles) > MAX_QUANTILES:
        raise QueryError(f"'quantiles' must be a list of at most {MAX_QUANTILES} levels")
    levels = []
    for q in quantiles:
        text = _decimal_string(q, "a quantile level")
        if not Decimal(0) <= Decimal(text) <= Decimal(1):
            raise QueryError(f"a quantile level must be between 0 and 1, got {text}")
        levels.append(text)
    if "quantiles" in stats and not levels:
        raise QueryError("'quantiles' requested but no levels given")
    edges = spec.get("histogram_edges", list(DEFAULT_EDGES))
    if not isinstance(edges, list) or len(edges) > MAX_EDGES:
        raise QueryError(f"'histogram_edges' must be a list of at most {MAX_EDGES} edges")
    edge_texts = [_decimal_string(e, "a histogram edge") for e in edges]
    units = [_units(e, "histogram edge") for e in edge_texts]
    if any(b <= a for a, b in itertools.pairwise(units)):
        raise QueryError("histogram edges must be strictly increasing")
    for name in _NEED_EDGES:
        if name in stats and not units:
            raise QueryError(f"'{name}' requested but no edges given")
    filt = _parse_filter(spec["filter"]) if "filter" in spec else None
    privacy = _parse_privacy(spec["privacy"], stats, filt) if "privacy" in spec else None
    return Query(tuple(dict.fromkeys(stats)), tuple(levels), tuple(edge_texts), filt, privacy)


def _parse_privacy(spec: object, stats: list[str], filt: Filter | None) -> Privacy:
    if not isinstance(spec, dict) or set(spec) - {"epsilon", "clip"}:
        raise QueryError("'privacy' must be an object with 'epsilon' (and 'clip' for sums)")
    if filt is not None:
        raise QueryError("'privacy' cannot be combined with a filter (the filtered count is exact)")
    exact = [s for s in stats if s not in DP_STATISTICS]
    if exact:
        raise QueryError(f"with 'privacy' a query may only ask for "
                         f"{', '.join(DP_STATISTICS)}; {exact[0]!r} has no DP mechanism here")
    epsilon = spec.get("epsilon")
    if not isinstance(epsilon, dict) or not epsilon:
        raise QueryError("'privacy.epsilon' must map 'sum' and/or 'histogram' to an epsilon")
    needed = {DP_STATISTICS[s] for s in stats} - {None}
    unknown = set(epsilon) - {"sum", "histogram"}
    if unknown:
        raise QueryError(f"unknown DP mechanism {sorted(unknown)[0]!r}; known: sum, histogram")
    missing = needed - set(epsilon)
    if missing:
        raise QueryError(f"'privacy.epsilon' needs a value for {sorted(missing)[0]!r}")
    values = []
    for name in sorted(epsilon):
        text = _decimal_string(epsilon[name], f"epsilon for {name}")
        if not Decimal(0) < Decimal(text) <= MAX_EPSILON:
            raise QueryError(f"epsilon for {name} must be in (0, {MAX_EPSILON}], got {text}")
        values.append((name, text))
    clip = None
    if "sum" in needed:
        if "clip" not in spec:
            raise QueryError("'privacy.clip' (the largest value a sum counts, in ETH) is required")
        clip = _decimal_string(spec["clip"], "privacy.clip")
        if _units(clip, "privacy.clip") <= 0:
            raise QueryError("privacy.clip must be positive")
    return Privacy(tuple(values), clip)
