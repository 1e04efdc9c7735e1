"""The pool's histogram as an inline SVG bar chart, rendered on the server (no JavaScript, no images).

The parties publish ``{"edges": [e0, ..., ek], "counts": [c0, ..., c(k+1)]}``: k+1 edges cut the line into
k+2 buckets ``(-inf, e0), [e0, e1), ..., [ek, inf)``. Edges are usually spread over orders of magnitude
(0.01, 0.1, 1, 10, 100 ETH), so every bucket gets the same width and is labelled with its range rather than
drawn to a linear scale. Everything here comes from the parties: :func:`parse_histogram` accepts only the
exact shape above, and every string that reaches the SVG is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

MAX_BUCKETS = 128

WIDTH, HEIGHT = 720, 300
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 28, 56, 16, 16


class HistogramError(ValueError):
    """The published histogram does not have the documented shape."""


@dataclass(frozen=True)
class Histogram:
    edges: tuple[str, ...]
    counts: tuple[int, ...]

    def labels(self) -> list[str]:
        """One human label per bucket: ``< e0``, ``e0 – e1``, ..., ``≥ ek``."""
        e = self.edges
        return [f"< {e[0]}", *(f"{a} – {b}" for a, b in zip(e, e[1:])), f"≥ {e[-1]}"]


def parse_histogram(value: Any) -> Histogram:
    if not isinstance(value, dict):
        raise HistogramError("histogram must be an object")
    edges, counts = value.get("edges"), value.get("counts")
    if not isinstance(edges, list) or not 1 <= len(edges) < MAX_BUCKETS:
        raise HistogramError("edges must be a non-empty list")
    if not isinstance(counts, list) or len(counts) != len(edges) + 1:
        raise HistogramError("counts must have one more entry than edges")
    for c in counts:
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise HistogramError("counts must be non-negative integers")
    texts = []
    for e in edges:
        if isinstance(e, bool) or not isinstance(e, (str, int, float)):
            raise HistogramError("edges must be decimal numbers")
        try:
            if not Decimal(str(e)).is_finite():
                raise HistogramError("edges must be finite")
        except InvalidOperation:
            raise HistogramError("edges must be decimal numbers") from None
        texts.append(str(e))
    return Histogram(tuple(texts), tuple(counts))


def render_svg(histogram: Histogram, unit: str = "ETH") -> str:
    """An accessible ``<svg>`` element: one ``<rect>`` per bucket with its count above and range below."""
    n = len(histogram.counts)
    top = max(histogram.counts) or 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / n
    bar_w = slot * 0.72
    base_y = MARGIN_TOP + plot_h
    total = sum(histogram.counts)
    parts = [
        f'<svg class="histogram" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="histogram-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="histogram-title">Providers per balance range ({escape(unit)}), {total} in all</title>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{base_y}" x2="{WIDTH - MARGIN_RIGHT}" y2="{base_y}"/>',
    ]
    for i, (label, count) in enumerate(zip(histogram.labels(), histogram.counts)):
        h = plot_h * count / top
        x = MARGIN_LEFT + i * slot + (slot - bar_w) / 2
        cx = MARGIN_LEFT + (i + 0.5) * slot
        label_e = escape(label)
        parts.append(
            f'<g class="bucket" data-bucket="{i}" data-count="{count}">'
            f'<title>{label_e} {escape(unit)}: {count}</title>'
            f'<rect class="bar" x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" rx="3"/>'
            f'<text class="count" x="{cx:.1f}" y="{base_y - h - 6:.1f}" text-anchor="middle">{count}</text>'
            f'<text class="range" x="{cx:.1f}" y="{base_y + 20}" text-anchor="middle">{label_e}</text>'
            f'</g>')
    parts.append(f'<text class="unit" x="{WIDTH / 2:.0f}" y="{HEIGHT - 10}" text-anchor="middle">'
                 f'balance ({escape(unit)})</text>')
    parts.append("</svg>")
    return "".join(parts)
