"""Python's cyclic garbage is collected on the GUI thread only.

The cyclic collector runs in whichever thread happens to allocate past a threshold. The app's
:class:`~provider_app.gui.worker.Task` threads allocate a lot (notarization, HTTP), and a Task keeps
its window alive through its callbacks, so a closed window (or dialog) can become garbage in a
reference cycle at any moment. Collecting that cycle in a worker thread destroys the C++ widgets
off the GUI thread, and the process dies with SIGSEGV (reproduced: a closed ``MainWindow`` in a
cycle, then ``gc.collect()`` from a ``threading.Thread``; it also took a CI run down while a
notarization thread started its websocket). So the automatic collector is switched off and a timer
on the GUI thread runs it, with the interpreter's own thresholds. pyqtgraph's ``GarbageCollector``
does the same for the same reason.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: how often the GUI thread looks at the allocation counts (ms); a worker thread may allocate
#: freely for this long before its cyclic garbage is looked at
INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Runs ``gc`` from a timer on the thread that owns it (create it on the GUI thread)."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled = gc.isenabled()
        self._young_runs = 0  # generation-0 collections due since generation 1 last ran
        self._middle_runs = 0  # generation-1 collections due since generation 2 last ran

    def start(self) -> GuiThreadCollector:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()
        return self

    def collect_due(self) -> None:
        """Collect what the interpreter would have collected for the allocations since the last tick.

        The interpreter collects generation 0 every ``threshold[0]`` net allocations, generation 1
        every ``threshold[1]`` of those and generation 2 every ``threshold[2]`` of the latter. A tick
        sees the allocations of up to ``INTERVAL_MS`` at once, so it counts the collections they
        stand for and runs the oldest generation that came due.
        """
        allocated = gc.get_count()[0]
        young_every, middle_every, old_every = gc.get_threshold()
        if young_every <= 0 or allocated <= young_every:
            return
        self._young_runs += allocated // young_every
        generation = 0
        if self._young_runs > middle_every:
            self._middle_runs += self._young_runs // max(middle_every, 1)
            self._young_runs, generation = 0, 1
            if self._middle_runs > old_every:
                self._middle_runs, generation = 0, 2
        gc.collect(generation)

    def stop(self) -> None:
        """Collect everything here, then give the collector back to the interpreter."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


def install(app: QObject) -> GuiThreadCollector:
    """The application's collector (one per application; it lives as long as ``app``)."""
    existing = app.findChild(GuiThreadCollector)
    if existing is not None:
        return existing
    return GuiThreadCollector(parent=app).start()
