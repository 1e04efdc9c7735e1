"""The pool's histogram as a bar chart drawn with QPainter (PySide6-Essentials has no QtCharts).

Input is what the parties publish: ``{"edges": [e0..ek], "counts": [c0..c(k+1)]}``, buckets
``(-inf, e0), [e0, e1), ..., [ek, inf)``. Edges usually span orders of magnitude, so every
bucket gets the same width and is labelled with its range (as on the results web page).
"""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

BAR = QColor("#3b6fb6")
AXIS = QColor("#888888")
TEXT = QColor("#222222")


def bucket_labels(edges: list[str]) -> list[str]:
    return [f"< {edges[0]}", *(f"{a} – {b}" for a, b in pairwise(edges)), f"≥ {edges[-1]}"]


class HistogramWidget(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.counts: list[int] = []
        self.unit = "ETH"
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(560, 240)

    def set_histogram(self, value: object) -> bool:
        """Show a published histogram; False (and an empty chart) if it has another shape."""
        self.labels, self.counts = [], []
        ok = False
        if isinstance(value, dict):
            edges, counts = value.get("edges"), value.get("counts")
            if (isinstance(edges, list) and edges and isinstance(counts, list)
                    and len(counts) == len(edges) + 1
                    and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)):
                self.labels, self.counts, ok = bucket_labels([str(e) for e in edges]), list(counts), True
        self.update()
        return ok

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        top, bottom, left, right = 22.0, 40.0, 12.0, 12.0
        if not self.counts:
            p.setPen(AXIS)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No histogram yet")
            return
        plot_h = max(h - top - bottom, 10.0)
        slot = (w - left - right) / len(self.counts)
        peak = max(self.counts) or 1
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() - 1.5, 7.0))
        p.setFont(small)
        for i, (label, count) in enumerate(zip(self.labels, self.counts)):
            x = left + i * slot
            bar_h = plot_h * count / peak
            bar = QRectF(x + slot * 0.12, top + plot_h - bar_h, slot * 0.76, bar_h)
            p.fillRect(bar, BAR)
            p.setPen(TEXT)
            p.drawText(QRectF(x, top + plot_h - bar_h - 18, slot, 16),
                       Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, str(count))
            p.drawText(QRectF(x, top + plot_h + 4, slot, 32),
                       Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                       | Qt.TextFlag.TextWordWrap, label)
        p.setPen(AXIS)
        p.drawLine(int(left), int(top + plot_h), int(w - right), int(top + plot_h))
        p.drawText(QRectF(left, 0, w - left - right, 18), Qt.AlignmentFlag.AlignLeft,
                   f"Providers per balance range ({self.unit})")
