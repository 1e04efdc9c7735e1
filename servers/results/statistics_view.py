"""How published statistics are named and shown: labels, units, rounding for display.

Shared by the results page and ``mpcstats query`` so both say the same thing about the same numbers.
The parties publish exact decimal strings (ETH, up to 8 decimals for sums and order statistics, up to 50
significant digits for means and square roots); for display they are rounded to 8 decimals — the precision
of the inputs — while the exact text stays available (the page keeps it in ``data-value``, ``--json`` prints
it unchanged). Statistics this module does not know (added to the MPC programs later) are still shown,
with a label derived from their name and no unit.
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
}
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


def label_for(name: str) -> tuple[str, str]:
    return KNOWN.get(name, (name.replace("_", " ").capitalize(), ""))


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


def rows(statistics: Mapping[str, Any]) -> Iterator[Row]:
    """One row per scalar statistic (quantiles expanded), known ones first in :data:`KNOWN` order."""
    names = [n for n in KNOWN if n in statistics]
    names += sorted(n for n in statistics if n not in KNOWN and n not in CHARTS and n not in META)
    for name in names:
        value = statistics[name]
        label, unit = label_for(name)
        if name == "quantiles" or (isinstance(value, Mapping) and name not in KNOWN):
            if not isinstance(value, Mapping):
                yield Row(name, label, value, display_number(value), unit)
                continue
            sub_unit = "ETH" if name == "quantiles" else ""
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
