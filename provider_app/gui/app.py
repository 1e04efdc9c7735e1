"""``mpcstats-app``: the provider desktop app.

Until the guided contribute flow lands this is the main window shell; it must
start on every platform the installers target, so it stays import-light.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_window():  # -> QMainWindow, imported lazily to keep Qt out of module import
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

    window = QMainWindow()
    window.setWindowTitle("MPCStats — contribute privately")
    body = QWidget()
    layout = QVBoxLayout(body)
    title = QLabel("<h2>MPCStats</h2>")
    title.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text = QLabel(
        "Pool your exchange balance with others and see the group's statistics —\n"
        "nobody, not even the servers, ever sees your own number."
    )
    text.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text.setWordWrap(True)
    layout.addWidget(title)
    layout.addWidget(text)
    window.setCentralWidget(body)
    window.resize(640, 420)
    return window


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpcstats-app")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                        help="close the window after SECONDS (smoke tests)")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    window = build_window()
    window.show()
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
