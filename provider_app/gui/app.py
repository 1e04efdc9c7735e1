"""``mpcstats-app``: the provider desktop app.

    mpcstats-app [--deployment FILE] [--data-dir DIR] [--self-test] [--quit-after SECONDS]

Settings, the API key and the history are described in :mod:`provider_app.settings`; the app-data
dir is the platform's (``QStandardPaths.AppDataLocation``: ``~/.local/share/MPCStats`` on Linux,
``~/Library/Application Support/MPCStats`` on macOS, ``%APPDATA%/MPCStats`` on Windows), or
``--data-dir`` / ``$MPCSTATS_APP_DATA``. Start-up stays import-light: the client library (which
pulls in the MPC sharing code) is imported in the background once the window is shown.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

APP_NAME = "MPCStats"
ORG_NAME = "MPCStats"


def app_data_dir(override: str | None = None) -> Path:
    if override or os.environ.get("MPCSTATS_APP_DATA"):
        return Path(override or os.environ["MPCSTATS_APP_DATA"])
    from PySide6.QtCore import QStandardPaths
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def ensure_application(qt_args: Sequence[str] = ()):  # -> QApplication
    """The QApplication, with cyclic garbage collected on its thread only (see ``collector``)."""
    from PySide6.QtWidgets import QApplication

    from provider_app.gui import collector
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    collector.install(app)
    return app


def build_window(data_dir: Path | None = None, deployment_file: str | None = None):
    """The main window (a QApplication must exist).

    A broken ``deployment_file`` raises :class:`~provider_app.settings.SettingsError` (the user named
    it); a broken saved override must not lock the user out, so the built-in deployment is used and
    the status bar says why.
    """
    from provider_app.gui.window import MainWindow
    from provider_app.settings import SettingsError, builtin_settings, load_file, load_settings
    data_dir = data_dir or app_data_dir()
    if deployment_file:
        return MainWindow(data_dir, load_file(deployment_file), deployment_file)
    try:
        settings = load_settings(data_dir)
    except SettingsError as exc:
        window = MainWindow(data_dir, builtin_settings())
        window.statusBar().showMessage(f"Saved settings ignored: {exc}")
        return window
    return MainWindow(data_dir, settings)


def _preload() -> None:
    try:
        import provider_app.client
        import provider_app.pool  # noqa: F401
    except Exception:  # noqa: BLE001, S110 — the step that needs it reports the real error
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpcstats-app")
    parser.add_argument("--deployment", metavar="FILE",
                        help="deployment settings (JSON; e.g. the deployment.json of `mpcstats up`)")
    parser.add_argument("--data-dir", metavar="DIR", help="app-data dir (settings, history)")
    parser.add_argument("--self-test", action="store_true",
                        help="start offscreen, run offline checks (GUI, sharing, AES-GCM, TLS), exit")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                        help="close the window after SECONDS (smoke tests)")
    parser.add_argument("--print-startup", action="store_true",
                        help="print 'window shown' once the window is on screen (start-up timing)")
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)

    if args.self_test:
        from provider_app.gui.selftest import run_self_test
        return run_self_test()

    from PySide6.QtCore import QTimer

    from provider_app.settings import SettingsError

    app = ensure_application(qt_args)
    try:
        window = build_window(Path(args.data_dir) if args.data_dir else None, args.deployment)
    except SettingsError as exc:
        print(f"mpcstats-app: {exc}", file=sys.stderr)
        return 2
    window.show()

    def shown() -> None:
        if args.print_startup:
            print("window shown", flush=True)
        threading.Thread(target=_preload, name="preload", daemon=True).start()

    QTimer.singleShot(0, shown)
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
