"""What a party publishes exactly (without differential privacy): the operator's release, nothing else.

An exact figure over inputs a consumer can steer is a way to read single balances:
two queries of 32 quantile levels inside the same gaps recover every order statistic
(a level interpolates two of them); min and max *are* single balances; a filter and
its complement give the statistics of the few inputs a threshold cuts off (issue 16).
So with ``exact_queries = "release"`` (the default) a party computes a query without
``privacy`` only if it is one of the operator's ``exact_releases`` (query specs fixed at
deployment: a fixed list of statistics, a fixed quantile grid, fixed edges; compared
by ``query.canonical_key``, so spelling does not matter). Anything else must ask with
``privacy`` and spend budget (``budget.py``). ``"any"`` restores the old behaviour for
development and tests only.

The default release is the foundation set without ``min`` and ``max`` (single
balances): an operator who wants them published lists them, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from mpc_programs.statistics.query import (DEFAULT_STATISTICS, Query, canonical_decimal,
                                           canonical_key, parse_query)

#: The release a party allows when its operator configured none.
DEFAULT_RELEASE: dict[str, Any] = {
    "statistics": [s for s in DEFAULT_STATISTICS if s not in ("min", "max")]}
EXACT_MODES = ("release", "any")


class ExactQueryRefused(Exception):
    pass


def release_keys(releases: Sequence[dict[str, Any]], columns: Sequence[str]) -> frozenset[str]:
    """The canonical keys of the operator's releases (a bad spec is a configuration error)."""
    return frozenset(canonical_key(parse_query(spec or DEFAULT_RELEASE, columns))
                     for spec in (releases or [DEFAULT_RELEASE]))


def check_exact(query: Query, mode: str, allowed: frozenset[str]) -> None:
    """Raise :class:`ExactQueryRefused` unless ``query`` may be answered exactly here."""
    if query.privacy is not None or mode == "any":
        return
    if canonical_key(query) not in allowed:
        raise ExactQueryRefused(
            "this party publishes exact figures only for the operator's fixed release "
            "(GET /v1/budget lists it); ask with 'privacy' (a differentially private "
            "answer that spends the pool's budget) instead")


class ClipRefused(Exception):
    pass


def check_clip(query: Query, bounds: dict[str, str], primary: str) -> None:
    """A DP query's ``clip`` must be the operator's public bound for its column, when one is set.

    ``dp_clip`` (column → ETH) fixes the clipping range per column at deployment, so every DP
    figure of a column is on the same, published scale (and accuracy is judged against it).
    """
    if query.privacy is None:
        return
    own = query.own_column(primary)
    if query.privacy.clip is not None:
        bound = bounds.get(own)
        if bound is not None and Decimal(bound) != Decimal(query.privacy.clip):
            raise ClipRefused(f"this deployment clips {own!r} at {canonical_decimal(bound)} "
                              f"(dp_clip); ask with \"clip\": \"{canonical_decimal(bound)}\"")
    for column in (query.columns or ()) if query.bivariate else ():
        clip = query.privacy.clip_of(column, own)
        bound = bounds.get(column)
        if clip is None:
            raise ClipRefused(f"'privacy.clip_columns' needs a bound for column {column!r} "
                              f"('clip' bounds only the query's own column, {own!r})")
        if bound is not None and Decimal(bound) != Decimal(clip):
            raise ClipRefused(f"this deployment clips {column!r} at {canonical_decimal(bound)} "
                              f"(dp_clip); ask with \"clip_columns\": {{\"{column}\": "
                              f"\"{canonical_decimal(bound)}\"}}")
