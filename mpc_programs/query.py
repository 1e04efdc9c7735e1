"""Query specs: which statistics to compute, validated before any MPC run.

A query is a small JSON object::

    {"statistics": ["count", "mean", "median", "quantiles", "histogram"],
     "quantiles": ["0.25", "0.75", "0.9"],
     "histogram_edges": ["0.1", "1", "10"]}

Quantile levels and histogram edges are exact decimal strings (numbers are accepted
and read through ``str``); edges are in the input's unit (ETH) and must be strictly
increasing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from mpc_programs.encoding import EncodingError, to_units

STATISTICS = (
    "count", "sum", "mean", "variance", "stdev", "pvariance", "pstdev",
    "min", "max", "median", "quantiles", "histogram",
)
DEFAULT_STATISTICS = STATISTICS
DEFAULT_QUANTILES = ("0.25", "0.75", "0.9")
DEFAULT_EDGES = ("0.01", "0.1", "1", "10", "100")
MAX_QUANTILES = 32
MAX_EDGES = 64


class QueryError(ValueError):
    """A query spec that cannot be run; the message says what to fix."""


@dataclass(frozen=True)
class Query:
    statistics: tuple[str, ...] = DEFAULT_STATISTICS
    quantiles: tuple[str, ...] = DEFAULT_QUANTILES
    histogram_edges: tuple[str, ...] = DEFAULT_EDGES
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def quantile_levels(self) -> list[Fraction]:
        return [Fraction(Decimal(q)) for q in self.quantiles]

    def edge_units(self) -> list[int]:
        return [to_units(e) for e in self.histogram_edges]

    def to_json(self) -> dict[str, Any]:
        return {"statistics": list(self.statistics), "quantiles": list(self.quantiles),
                "histogram_edges": list(self.histogram_edges)}


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


def parse_query(spec: object) -> Query:
    """Validate a JSON query spec; raises :class:`QueryError` with a clear message."""
    if spec is None:
        return Query()
    if not isinstance(spec, dict):
        raise QueryError("a query must be a JSON object")
    unknown_keys = set(spec) - {"statistics", "quantiles", "histogram_edges"}
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
    try:
        units = [to_units(e) for e in edge_texts]
    except EncodingError as exc:
        raise QueryError(f"bad histogram edge: {exc}") from exc
    if any(b <= a for a, b in zip(units, units[1:])):
        raise QueryError("histogram edges must be strictly increasing")
    if "histogram" in stats and not units:
        raise QueryError("'histogram' requested but no edges given")
    return Query(tuple(dict.fromkeys(stats)), tuple(levels), tuple(edge_texts))
