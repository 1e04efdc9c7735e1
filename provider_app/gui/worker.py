"""Run blocking work (network, notarization) off the GUI thread and hand results back to it.

A :class:`Task` is a QObject created in the GUI thread; its function runs in a daemon
``threading.Thread``. The thread only *emits* signals; because the receiving slots are bound
methods of the Task itself (which lives in the GUI thread), Qt queues them, so every callback
(``on_done``, ``on_error``, ``on_progress``) runs in the GUI thread and may touch widgets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

_running: set[Task] = set()  # keep Python references until the result is delivered


class Task(QObject):
    _succeeded = Signal(object)
    _failed = Signal(object)
    _progressed = Signal(object)

    def __init__(self, fn: Callable[[Task], Any], *,
                 on_done: Callable[[Any], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 on_progress: Callable[[Any], None] | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.on_done, self.on_error, self.on_progress = on_done, on_error, on_progress
        self.cancel = threading.Event()
        #: set when the GUI no longer wants the result (the user moved on); callbacks are skipped
        self.abandoned = False
        self._succeeded.connect(self._deliver_done)
        self._failed.connect(self._deliver_error)
        self._progressed.connect(self._deliver_progress)

    def start(self) -> Task:
        _running.add(self)
        threading.Thread(target=self._run, name="mpcstats-task", daemon=True).start()
        return self

    def progress(self, value: Any) -> None:
        """Called from the worker thread."""
        self._progressed.emit(value)

    def abandon(self) -> None:
        self.abandoned = True
        self.cancel.set()

    def _run(self) -> None:
        try:
            value = self.fn(self)
        except BaseException as exc:  # noqa: BLE001 — every failure goes back to the GUI
            self._failed.emit(exc)
        else:
            self._succeeded.emit(value)

    @Slot(object)
    def _deliver_done(self, value: Any) -> None:
        _running.discard(self)
        if not self.abandoned and self.on_done is not None:
            self.on_done(value)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        _running.discard(self)
        if not self.abandoned and self.on_error is not None:
            self.on_error(exc)

    @Slot(object)
    def _deliver_progress(self, value: Any) -> None:
        if not self.abandoned and self.on_progress is not None:
            self.on_progress(value)


def running() -> int:
    return len(_running)
