"""How published statistics are named and shown: labels, units, rounding for display.

Shared by the results page and ``mpcstats query`` so both say the same thing about the same numbers.
The parties publish exact decimal strings (ETH, up to 8 decimals for sums and order statistics, up to 50
significant digits for means and square roots); for display they are rounded to 8 decimals — the precision
of the inputs — while the exact text stays available (the page keeps it in ``data-value``, ``--json`` prints
it unchanged). Statistics this module does not know (added to the MPC programs later) are still shown,
with a label derived from their name and no unit.

Units follow the query the result answers (its ``query``, when given): the one-column statistics are in the
unit of the query's ``column`` (:data:`COLUMN_UNITS`; ETH for the primary ``balance``), the two-column ones
in those of its ``columns`` [x, y]: covariance in x·y (ETH² for two ETH columns), correlation unitless,
``linear_regression`` (y ≈ slope·x + intercept) as two rows, the slope in y/x (unitless for equal units) and
the intercept in y's unit. A statistic that is undefined for the pool (published as ``null``) reads ``—``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

DISPLAY_DECIMALS = 8
HEADLINE_DECIMALS = 4

# name -> (label, unit); order here is the order on the page.
KNOWN: dict[str, tuple[str, str]] = {
    "count": ("Providers", ""),
    "mean": ("Mean", "ETH"),
    "median": ("Median", "ETH"),
    "stdev": ("Standard deviation (sample)", "ETH"),
    "pstdev": ("Standard deviation (population)", "ETH"),
    "variance": ("Variance (sample)", "ETH²"),
    "pvariance": ("Variance (population)", "ETH²"),
    "min": ("Minimum", "ETH"),
    "max": ("Maximum", "ETH"),
    "quantiles": ("Quantiles", "ETH"),
    "sum": ("Sum", "ETH"),
    "geometric_mean": ("Geometric mean", "ETH"),
    "harmonic_mean": ("Harmonic mean", "ETH"),
    "mode": ("Mode", "ETH"),
    "gini": ("Gini coefficient", ""),
    "covariance": ("Sample covariance", "ETH²"),
    "correlation": ("Pearson correlation", ""),
    "linear_regression": ("Linear regression", "ETH"),
}
#: The unit of a column's values, by column name; a column not listed here is shown without a unit.
COLUMN_UNITS: dict[str, str] = {"balance": "ETH", "btc": "BTC"}
#: The column a result describes when its query names none.
PRIMARY_COLUMN = "balance"
# Shown in the summary cards at the top of the page, if present.
HEADLINE = ("count", "mean", "median", "stdev", "min", "max")
# Drawn as a chart, not listed as rows.
CHARTS = ("histogram",)
#: Published beside the statistics, not as one: shown in its own section.
META = ("privacy", "no_inputs")


@dataclass(frozen=True)
class Row:
    key: str      # "mean", "quantiles.0.25", ...: stable, used in data-stat attributes and tests
    label: str
    value: Any    # exactly as published
    display: str  # rounded for reading
    unit: str


def display_number(value: Any, decimals: int = DISPLAY_DECIMALS) -> str:
    """A published value for reading: rounded to ``decimals`` places, trailing zeros dropped, digit groups.

    ``None`` (a statistic undefined for this pool, e.g. the sample variance of one input) reads as ``—``;
    anything that is not a number is shown as compact JSON.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (str, float)):
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if not d.is_finite():
            return str(value)
        exponent = d.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -decimals:
            d = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
        text = f"{d:,f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def format_time(value: Any) -> tuple[str, str]:
    """``(machine, human)`` for a published time: Unix seconds or an ISO 8601 string, shown in UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            moment = dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return "", str(value)
        return moment.isoformat().replace("+00:00", "Z"), moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "", value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC)
        return value, moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "", display_number(value)


def column_unit(column: Any) -> str:
    return COLUMN_UNITS.get(column, "") if isinstance(column, str) else ""


def own_column(query: Any) -> str:
    """The column a result's one-column statistics describe (its query's ``column``, else the primary)."""
    column = query.get("column") if isinstance(query, Mapping) else None
    return column if isinstance(column, str) else PRIMARY_COLUMN


def pair_columns(query: Any) -> tuple[str, str] | None:
    """The query's ``columns`` [x, y] of the two-column statistics, if it names them."""
    pair = query.get("columns") if isinstance(query, Mapping) else None
    if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(c, str) for c in pair):
        return pair[0], pair[1]
    return None


def label_for(name: str, query: Any = None) -> tuple[str, str]:
    """(label, unit) of a one-column statistic of a result answering ``query`` (None: the primary column)."""
    label, unit = KNOWN.get(name, (name.replace("_", " ").capitalize(), ""))
    if unit.startswith("ETH"):
        own = column_unit(own_column(query))
        unit = unit.replace("ETH", own, 1) if own else ""
    return label, unit


def _pair_units(query: Any) -> tuple[str, str]:
    pair = pair_columns(query)
    if pair is None:
        return COLUMN_UNITS[PRIMARY_COLUMN], COLUMN_UNITS[PRIMARY_COLUMN]
    return column_unit(pair[0]), column_unit(pair[1])


def _bivariate_rows(name: str, value: Any, query: Any) -> Iterator[Row]:
    """covariance, correlation, or linear_regression's slope and intercept (a null one: both ``—``)."""
    x_unit, y_unit = _pair_units(query)
    pair = pair_columns(query)
    if name == "linear_regression":
        on = f" ({pair[1]} on {pair[0]})" if pair else ""
        fit = value if isinstance(value, Mapping) else {}
        slope_unit = "" if x_unit == y_unit else (f"{y_unit}/{x_unit}" if x_unit and y_unit else "")
        for part, label, unit in (("slope", "Regression slope", slope_unit),
                                  ("intercept", "Regression intercept", y_unit)):
            v = fit.get(part)
            yield Row(f"{name}.{part}", label + on, v, display_number(v), unit)
        extra = sorted(k for k in fit if k not in ("slope", "intercept"))
        for key in extra:  # a field a later version adds: shown, not dropped
            yield Row(f"{name}.{key}", f"Linear regression [{key}]", fit[key], display_number(fit[key]), "")
        if value is not None and not isinstance(value, Mapping):
            yield Row(name, "Linear regression" + on, value, display_number(value), "")
        return
    label, _ = KNOWN[name]
    of = f" ({pair[0]}, {pair[1]})" if pair else ""
    unit = ""
    if name == "covariance" and x_unit and y_unit:
        unit = f"{x_unit}²" if x_unit == y_unit else f"{x_unit}·{y_unit}"
    yield Row(name, label + of, value, display_number(value), unit)


def _mode_rows(value: Any, unit: str) -> Iterator[Row]:
    """The modal bucket as a range (like the histogram's labels) and how many inputs it holds."""
    bucket = value.get("bucket") if isinstance(value, Mapping) else None
    if not (isinstance(bucket, (list, tuple)) and len(bucket) == 2):
        yield Row("mode", KNOWN["mode"][0], value, display_number(value), unit if value is None else "")
        return
    lo, hi = bucket
    if lo is None and hi is None:
        shown = "any"
    elif lo is None:
        shown = f"< {display_number(hi)}"
    elif hi is None:
        shown = f"≥ {display_number(lo)}"
    else:
        shown = f"{display_number(lo)} – {display_number(hi)}"
    yield Row("mode", "Mode (most common range)", list(bucket), shown, unit)
    count = value.get("count")
    yield Row("mode.count", "Mode: inputs in that range", count, display_number(count), "")


def notice(statistics: Mapping[str, Any]) -> str | None:
    """Why a result has no (or withheld) statistics, e.g. a filter that matches no input; else None."""
    message = statistics.get("no_inputs")
    return None if message is None else str(message)


def quantile_label(level: str) -> str:
    """``"0.25"`` -> ``"25th percentile"``; a level that is not a number is shown as given."""
    try:
        pct = (Decimal(level) * 100).normalize()
    except InvalidOperation:
        return f"Quantile {level}"
    text = f"{pct:f}"
    if pct == pct.to_integral_value():
        n = int(pct)
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix} percentile"
    return f"{text}th percentile"


def rows(statistics: Mapping[str, Any], query: Any = None) -> Iterator[Row]:
    """One row per scalar statistic (quantiles, the mode and the regression expanded), known ones first in
    :data:`KNOWN` order; ``query`` (the result's, as published) sets the units and names the columns."""
    names = [n for n in KNOWN if n in statistics]
    names += sorted(n for n in statistics if n not in KNOWN and n not in CHARTS and n not in META)
    for name in names:
        value = statistics[name]
        label, unit = label_for(name, query)
        if name in ("covariance", "correlation", "linear_regression"):
            yield from _bivariate_rows(name, value, query)
            continue
        if name == "mode":
            yield from _mode_rows(value, unit)
            continue
        if name == "quantiles" or (isinstance(value, Mapping) and name not in KNOWN):
            if not isinstance(value, Mapping):
                yield Row(name, label, value, display_number(value), unit)
                continue
            sub_unit = unit if name == "quantiles" else ""
            for level, v in sorted(value.items(), key=lambda kv: _sort_key(kv[0])):
                sub_label = quantile_label(str(level)) if name == "quantiles" else f"{label} [{level}]"
                yield Row(f"{name}.{level}", sub_label, v, display_number(v), sub_unit)
            continue
        yield Row(name, label, value, display_number(value), unit)


def _sort_key(text: Any) -> tuple[int, Decimal | str]:
    try:
        return (0, Decimal(str(text)))
    except InvalidOperation:
        return (1, str(text))
