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
  noised statistic needs its ε, and it cannot be combined with a filter. ``median`` and
  ``quantiles`` take ``epsilon.quantiles`` (split evenly over their distinct ranks;
  noisy counts at each digit of the radix search, ``dp_order``) and ``clip`` too; the
  DP 1st and 99th percentiles stand in for min and max. ``variance``, ``stdev``,
  ``pvariance`` and ``pstdev`` take ``epsilon.variance`` (half on a noisy clipped sum,
  half on a noisy clipped sum of squares, sensitivity clip²). ``covariance``,
  ``correlation`` and ``linear_regression`` take ``epsilon.bivariate`` (split evenly over
  the noisy clipped sums Σx, Σy, Σxy, Σx², Σy² they need; ``dp_stats``): ``clip`` bounds
  the query's own column, ``clip_columns`` (column → ETH) the other column of the pair.
* ``filter`` — a conjunction of public comparisons ``[op, value]`` (on the query's
  column) or ``[column, op, value]`` (on any column: a join of columns of the same
  inputs), op one of ``< <= > >= == !=``: every statistic is computed over the inputs
  whose (secret) values satisfy all of them, without revealing which inputs those are.
  Values are decimals with at most 8 places, 0 <= value <= the largest encodable balance.
* ``column`` — the column the one-column statistics describe (default: the source's
  first column, ``balance``); a source with several value fields has several columns.
* ``columns`` — ``[x, y]``: the two columns of ``covariance``, ``correlation`` and
  ``linear_regression`` (y ≈ slope·x + intercept); required when one is asked for.

Missing values: a provider whose response lacks an optional field has no value in
that column. A query runs over the inputs that have a value in every column it uses
(its ``column`` unless it asks only two-column statistics, its ``columns``, and every
filtered column); ``count`` is their number. A missing value never matches a filter.

Decimal fields accept numbers too (read through ``str``). Every error is a
:class:`QueryError` whose message names the field to fix.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from collections.abc import Sequence

from mpc_programs.shares.encoding import MAX_UNITS, EncodingError, to_units

#: The foundation statistics: what a query computes when it names none.
DEFAULT_STATISTICS = (
    "count", "sum", "mean", "variance", "stdev", "pvariance", "pstdev",
    "min", "max", "median", "quantiles", "histogram",
)
#: Every statistic a query may name.
#: Statistics over two columns (``columns``).
BIVARIATE = ("covariance", "correlation", "linear_regression")
STATISTICS = DEFAULT_STATISTICS + ("mode", "geometric_mean", "harmonic_mean", "gini") + BIVARIATE
DEFAULT_QUANTILES = ("0.25", "0.75", "0.9")
DEFAULT_EDGES = ("0.01", "0.1", "1", "10", "100")
MAX_QUANTILES = 32
MAX_EDGES = 64
MAX_FILTER_CLAUSES = 8
#: The column a query describes when it names none (``tlsn`` specs' default first column).
PRIMARY_COLUMN = "balance"
_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
FILTER_OPS = ("<", "<=", ">", ">=", "==", "!=")
#: A non-zero decimal below 1e-8 cannot be a balance (checked before any exact arithmetic).
DECIMALS_LIMIT = 8
#: Statistics that need bucket edges.
_NEED_EDGES = ("histogram", "mode")
#: What a differentially private query may ask for, and which ε covers each.
DP_STATISTICS = {"count": None, "sum": "sum", "mean": "sum", "histogram": "histogram",
                 "median": "quantiles", "quantiles": "quantiles", "variance": "variance",
                 "stdev": "variance", "pvariance": "variance", "pstdev": "variance",
                 "covariance": "bivariate", "correlation": "bivariate",
                 "linear_regression": "bivariate"}
DP_MECHANISMS = ("sum", "histogram", "quantiles", "variance", "bivariate")
MAX_EPSILON = Decimal(10)
#: The least ε one DP order statistic may get (``dp_order``: its noisy counts must fit
#: ``dp_order.MAX_COMPARISON_BITS``).
MIN_EPSILON_PER_RANK = Fraction(1, 10_000)
#: The least ``epsilon.bivariate`` (``dp_stats.open_noisy_bivariate_sums``: the noise on Σxy,
#: scale 5·clip_x·clip_y/ε, must stay far below the field's half).
MIN_EPSILON_BIVARIATE = Fraction(1, 10_000)


@dataclass(frozen=True)
class Privacy:
    """Per-mechanism ε (exact decimal strings) and the clipping bounds (ETH): ``clip`` for the
    query's own column, ``clip_columns`` for other columns (the DP two-column statistics)."""

    epsilon: tuple[tuple[str, str], ...]
    clip: str | None = None
    clip_columns: tuple[tuple[str, str], ...] = ()

    def clip_of(self, column: str, own: str) -> str | None:
        """The public bound of ``column`` (``own``: the query's own column, bounded by ``clip``)."""
        bounds = dict(self.clip_columns)
        if column in bounds:
            return bounds[column]
        return self.clip if column == own else None

    def epsilon_of(self, mechanism: str) -> Fraction:
        return Fraction(Decimal(dict(self.epsilon)[mechanism]))

    def epsilon_total(self) -> Fraction:
        """What one run costs the pool's budget: the ε of every mechanism, composed (added)."""
        return sum((Fraction(Decimal(v)) for _, v in self.epsilon), Fraction(0))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"epsilon": dict(self.epsilon)}
        if self.clip is not None:
            out["clip"] = self.clip
        if self.clip_columns:
            out["clip_columns"] = dict(self.clip_columns)
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
    filter: Filter | None = None  # on the query's own column
    privacy: Privacy | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    column: str | None = None  # None: the primary column
    columns: tuple[str, str] | None = None  # the two columns of BIVARIATE statistics
    column_filters: tuple[tuple[str, Filter], ...] = ()  # filters on other columns

    @property
    def bivariate(self) -> tuple[str, ...]:
        return tuple(s for s in self.statistics if s in BIVARIATE)

    def own_column(self, primary: str = PRIMARY_COLUMN) -> str:
        return self.column or primary

    def filters(self, primary: str = PRIMARY_COLUMN) -> list[tuple[str, Filter]]:
        """Every filter with the column it tests (the query's own column first)."""
        own = [(self.own_column(primary), self.filter)] if self.filter is not None else []
        return own + list(self.column_filters)

    def used_columns(self, primary: str = PRIMARY_COLUMN) -> list[str]:
        """The columns an input needs a value in to count (see the module docstring)."""
        used: list[str] = []
        if len(self.bivariate) < len(self.statistics) - ("count" in self.statistics) \
                or not self.bivariate:
            used.append(self.own_column(primary))
        used += list(self.columns or ()) + [c for c, _ in self.filters(primary)]
        return list(dict.fromkeys(used))

    def check_columns(self, available: Sequence[str]) -> None:
        """Raise :class:`QueryError` if the query names a column the pool does not have."""
        named = ([self.column] if self.column else []) + list(self.columns or ()) + [
            c for c, _ in self.column_filters]
        for name in named:
            if name not in available:
                raise QueryError(f"unknown column {name!r}; this pool has: {', '.join(available)}")

    def quantile_levels(self) -> list[Fraction]:
        return [Fraction(Decimal(q)) for q in self.quantiles]

    def edge_units(self) -> list[int]:
        return [to_units(e) for e in self.histogram_edges]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statistics": list(self.statistics),
                               "quantiles": list(self.quantiles),
                               "histogram_edges": list(self.histogram_edges)}
        clauses = self.filter.to_json() if self.filter is not None else []
        for name, filt in self.column_filters:
            clauses += [[name, *clause] for clause in filt.to_json()]
        if clauses:
            out["filter"] = clauses
        if self.privacy is not None:
            out["privacy"] = self.privacy.to_json()
        if self.column is not None:
            out["column"] = self.column
        if self.columns is not None:
            out["columns"] = list(self.columns)
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


def _column_name(value: object, what: str) -> str:
    if not isinstance(value, str) or _COLUMN_NAME.fullmatch(value) is None:
        raise QueryError(f"{what} must be a column name (a-z, 0-9, _), got {value!r}")
    return value


def _parse_filter(spec: object, own: str | None) -> tuple[Filter | None, tuple[tuple[str, Filter], ...]]:
    """(filter on the query's own column, filters on other columns by column)."""
    if not isinstance(spec, list) or not spec or len(spec) > MAX_FILTER_CLAUSES:
        raise QueryError(f"'filter' must be a non-empty list of at most {MAX_FILTER_CLAUSES} "
                         "[op, value] or [column, op, value] clauses, e.g. [[\">\", \"1\"]]")
    by_column: dict[str | None, list[tuple[str, str]]] = {}
    for clause in spec:
        if not isinstance(clause, list) or len(clause) not in (2, 3):
            raise QueryError("a filter clause must be [op, value] or [column, op, value], "
                             f"got {clause!r}")
        column = _column_name(clause[0], "a filter clause's column") if len(clause) == 3 else None
        if column is not None and column == own:
            column = None
        op, value = clause[-2:]
        if op not in FILTER_OPS:
            raise QueryError(f"unknown filter operator {op!r}; known: {' '.join(FILTER_OPS)}")
        text = _decimal_string(value, "a filter value")
        _units(text, "filter value")
        by_column.setdefault(column, []).append((op, text))
    own_clauses = by_column.pop(None, None)
    others = tuple((c, Filter(tuple(cl))) for c, cl in sorted(by_column.items()) if c is not None)
    return (Filter(tuple(own_clauses)) if own_clauses else None), others


def parse_query(spec: object, columns: Sequence[str] | None = None) -> Query:
    """Validate a JSON query spec; raises :class:`QueryError` with a clear message.

    ``columns``: the pool's columns (first = primary), when known: names are checked.
    """
    query = _parse_query(spec)
    if columns is not None:
        query.check_columns(columns)
    return query


def _parse_query(spec: object) -> Query:
    if spec is None:
        return Query()
    if not isinstance(spec, dict):
        raise QueryError("a query must be a JSON object")
    unknown_keys = set(spec) - {"statistics", "quantiles", "histogram_edges", "filter", "privacy",
                                "column", "columns"}
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
    column = _column_name(spec["column"], "'column'") if "column" in spec else None
    pair = _parse_pair(spec.get("columns"), stats)
    filt, column_filters = (_parse_filter(spec["filter"], column) if "filter" in spec
                            else (None, ()))
    privacy = None
    if "privacy" in spec:
        privacy = _parse_privacy(spec["privacy"], stats, filt or bool(column_filters), pair,
                                 column)
        ranks = len(set(levels)) * ("quantiles" in stats) + ("median" in stats)
        if ranks and privacy.epsilon_of("quantiles") / ranks < MIN_EPSILON_PER_RANK:
            raise QueryError(f"epsilon for quantiles is split over {ranks} ranks; each needs at "
                             f"least {MIN_EPSILON_PER_RANK} (the noise must fit the comparisons)")
    return Query(tuple(dict.fromkeys(stats)), tuple(levels), tuple(edge_texts), filt, privacy,
                 column=column, columns=pair, column_filters=column_filters)


def _parse_pair(spec: object, stats: list[str]) -> tuple[str, str] | None:
    wanted = [s for s in stats if s in BIVARIATE]
    if spec is None:
        if wanted:
            raise QueryError(f"{wanted[0]!r} needs 'columns': the two columns [x, y] it relates")
        return None
    if not isinstance(spec, list) or len(spec) != 2:
        raise QueryError("'columns' must be a list of two column names [x, y]")
    x, y = (_column_name(c, "a name in 'columns'") for c in spec)
    if not wanted:
        raise QueryError(f"'columns' is only for {', '.join(BIVARIATE)}")
    return x, y


def _parse_privacy(spec: object, stats: list[str], filt: object,
                   pair: tuple[str, str] | None = None, own: str | None = None) -> Privacy:
    if not isinstance(spec, dict) or set(spec) - {"epsilon", "clip", "clip_columns"}:
        raise QueryError("'privacy' must be an object with 'epsilon' (and 'clip' for sums, "
                         "'clip_columns' for the bounds of other columns)")
    if filt:
        raise QueryError("'privacy' cannot be combined with a filter (the filtered count is exact)")
    exact = [s for s in stats if s not in DP_STATISTICS]
    if exact:
        raise QueryError(f"with 'privacy' a query may only ask for "
                         f"{', '.join(DP_STATISTICS)}; {exact[0]!r} has no DP mechanism here")
    epsilon = spec.get("epsilon")
    if not isinstance(epsilon, dict) or not epsilon:
        raise QueryError("'privacy.epsilon' must map 'sum', 'histogram' and/or 'quantiles' "
                         "to an epsilon")
    needed = {m for m in (DP_STATISTICS[s] for s in stats) if m is not None}
    unknown = set(epsilon) - set(DP_MECHANISMS)
    if unknown:
        raise QueryError(f"unknown DP mechanism {sorted(unknown)[0]!r}; known: "
                         f"{', '.join(DP_MECHANISMS)}")
    missing = needed - set(epsilon)
    if missing:
        raise QueryError(f"'privacy.epsilon' needs a value for {sorted(missing)[0]!r}")
    values = []
    for name in sorted(epsilon):
        text = _decimal_string(epsilon[name], f"epsilon for {name}")
        if not Decimal(0) < Decimal(text) <= MAX_EPSILON:
            raise QueryError(f"epsilon for {name} must be in (0, {MAX_EPSILON}], got {text}")
        values.append((name, canonical_decimal(text)))  # "1", "1.0", "1.00": one ε
    clip = None
    if needed & {"sum", "quantiles", "variance"}:
        if "clip" not in spec:
            raise QueryError("'privacy.clip' (the largest value a sum or quantile counts, in ETH) "
                             "is required")
        clip = _decimal_string(spec["clip"], "privacy.clip")
        if _units(clip, "privacy.clip") <= 0:
            raise QueryError("privacy.clip must be positive")
        clip = canonical_decimal(clip)
    clip_columns = _parse_clip_columns(spec.get("clip_columns", {}))
    extra = [c for c, _ in clip_columns if "bivariate" not in needed or c not in (pair or ())]
    if extra:  # a bound nothing uses would only respell the query (a fresh cache key)
        raise QueryError(f"'privacy.clip_columns' names {extra[0]!r}, which is not one of the "
                         "'columns' of a two-column statistic")
    if "bivariate" in needed:
        if Fraction(Decimal(dict(values)["bivariate"])) < MIN_EPSILON_BIVARIATE:
            raise QueryError(f"epsilon for bivariate must be at least {MIN_EPSILON_BIVARIATE}")
        bounds = dict(clip_columns)
        assert pair is not None  # _parse_pair requires 'columns' for these statistics
        unbounded = list(dict.fromkeys(c for c in pair if c not in bounds))
        # 'clip' bounds the query's own column ('column', default the pool's first column:
        # which one that is, the parties check when they run it)
        if len(unbounded) > 1 or (unbounded and own is not None and unbounded[0] != own):
            name = next((c for c in reversed(unbounded) if c != own), unbounded[-1])
            raise QueryError(f"'privacy.clip_columns' needs a bound for column {name!r} "
                             "(the DP two-column statistics clip both columns; 'clip' bounds "
                             "only the query's own column)")
        if unbounded and "clip" not in spec:
            raise QueryError(f"'privacy.clip' (the bound of column {unbounded[0]!r}, in ETH) is "
                             "required, or give it in 'privacy.clip_columns'")
        if unbounded and clip is None:
            clip = _parse_clip(spec["clip"], "privacy.clip")
    return Privacy(tuple(values), clip, clip_columns)


def _parse_clip(value: object, what: str) -> str:
    text = _decimal_string(value, what)
    if _units(text, what) <= 0:
        raise QueryError(f"{what} must be positive")
    return canonical_decimal(text)


def _parse_clip_columns(spec: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(spec, dict) or len(spec) > 2:
        raise QueryError("'privacy.clip_columns' must map at most two column names to their "
                         "bounds, e.g. {\"btc\": \"100\"}")
    return tuple(sorted((_column_name(name, "a name in 'privacy.clip_columns'"),
                         _parse_clip(value, f"privacy.clip_columns[{name!r}]"))
                        for name, value in spec.items()))


def canonical_decimal(text: str) -> str:
    """The one spelling of a decimal number: "1", "1.0", "1.00", "1e0" all give "1"."""
    value = Decimal(text)
    return "0" if value == 0 else format(value.normalize(), "f")


def canonical_key(query: Query) -> str:
    """What makes two queries the same question, whatever their spelling.

    Every decimal (ε, clip, quantile levels, edges, filter values) is read as a number,
    statistics and quantile levels as sets: two specs with the same key ask the same
    thing, so the parties answer the second from their cache (``servers/party/budget.py``)
    instead of drawing fresh noise, which would let a consumer average it away.
    """
    spec = query.to_json()
    spec["statistics"] = sorted(spec["statistics"])
    spec["quantiles"] = sorted({canonical_decimal(q) for q in spec["quantiles"]},
                               key=Decimal)
    spec["histogram_edges"] = [canonical_decimal(e) for e in spec["histogram_edges"]]
    if "filter" in spec:
        spec["filter"] = sorted([*c[:-1], canonical_decimal(c[-1])] for c in spec["filter"])
    if "privacy" in spec:
        privacy = spec["privacy"]
        privacy["epsilon"] = {k: canonical_decimal(v) for k, v in privacy["epsilon"].items()}
        if "clip" in privacy:
            privacy["clip"] = canonical_decimal(privacy["clip"])
        if "clip_columns" in privacy:
            privacy["clip_columns"] = {k: canonical_decimal(v)
                                       for k, v in privacy["clip_columns"].items()}
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))
