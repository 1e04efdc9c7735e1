"""Closed main windows left in reference cycles, then a worker thread that allocates.

Run as a script (``python tests/gc_churn_app.py``) by ``tests/test_gui.py``, in a process of its
own: without the app's collector the interpreter collects in the worker thread, and the process
dies with SIGSEGV. Prints one line, the threads the cyclic collector ran in after the windows
were closed.
"""

from __future__ import annotations

import gc
import tempfile
import threading
import time
from pathlib import Path

from provider_app.gui.app import ensure_application
from provider_app.gui.window import MainWindow
from provider_app.settings import builtin_settings


def _churn() -> None:
    """What a notarization thread does to the collector: allocate many container objects."""
    junk: list[list] = []
    for _ in range(300_000):
        item: list = []
        item.append(item)
        junk.append(item)
        if len(junk) > 1000:
            junk.clear()


def main() -> None:
    app = ensure_application()
    collected_in: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(3):
            window = MainWindow(Path(tmp) / str(number), builtin_settings())
            window.show()
            app.processEvents()
            window.close()
            window.itself = window  # type: ignore[attr-defined]  # the cycle
            del window
            app.processEvents()
        gc.callbacks.append(lambda phase, info: phase == "start"
                            and collected_in.add(threading.current_thread().name))
        worker = threading.Thread(target=_churn, name="worker")
        worker.start()
        worker.join()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.05)
    print("collected in:", " ".join(sorted(collected_in)) or "nothing", flush=True)


if __name__ == "__main__":
    main()
