"""Render every page of the provider app offscreen to PNG files, so reviewers need not install it.

    python -m provider_app.screenshots OUTDIR

Pages are filled with sample data (no servers are contacted); the key is kept in memory only.
Writes ``app-<page>.png`` for: home, privacy, key, notarize, confirm, sending, done, error (one per
common failure), results, settings.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SAMPLE_STATISTICS: dict[str, Any] = {
    "count": 20, "mean": "152.30412345", "median": "88.125", "stdev": "171.0045",
    "min": "0.01250000", "max": "612.5", "sum": "3046.0824690",
    "quantiles": {"0.25": "12.5", "0.75": "240.75", "0.9": "410.2"},
    "histogram": {"edges": ["0.01", "0.1", "1", "10", "100"], "counts": [0, 1, 2, 3, 5, 9]},
}
SAMPLE_RESULT: dict[str, Any] = {"statistics": SAMPLE_STATISTICS,
                                 "n": 20, "computed_at": int(time.time()) - 120, "run_id": "sample"}

def render(outdir: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from provider_app.errors import ContributionError
    from provider_app.gui.app import ensure_application
    from provider_app.gui.window import MainWindow
    from provider_app.pool import statistic_rows
    from provider_app.settings import StoredKey, add_history, builtin_settings

    app = ensure_application()
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        add_history(data_dir, "binance_eth", "853150706", when=time.time() - 86400 * 3)
        window = MainWindow(data_dir, builtin_settings())
        window._session_key = StoredKey("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                                        "sample")
        window.resize(820, 600)
        window.show()

        def shot(name: str, widget=None) -> None:  # type: ignore[no-untyped-def]
            app.processEvents()
            path = outdir / f"app-{name}.png"
            (widget or window).grab().save(str(path))
            written.append(path)

        window.go_home()
        shot("home")
        window.start_contribution()
        shot("privacy")
        window.key_page.clear()
        window.stack.setCurrentWidget(window.key_page)
        window.key_page.api_key.setText("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
        window.key_page.secret.setText("not-a-real-secret")
        shot("key")
        window.key_page.clear()
        window.stack.setCurrentWidget(window.notarize_page)
        shot("notarize")
        window.confirm_page.show_notarized("12.34567890", "853150706")
        window.stack.setCurrentWidget(window.confirm_page)
        shot("confirm")
        window.sending_page.reset()
        window.sending_page.mark("register", "done")
        window.sending_page.mark("share", "done")
        window.sending_page.mark("verify", "busy")
        window.sending_page.status.setText(
            "The three servers are checking the notary's proof and decrypting only the balance "
            "field, inside MPC…")
        window.stack.setCurrentWidget(window.sending_page)
        shot("sending")
        window.done_page.show_outcome("853150706", 0.9)
        window.stack.setCurrentWidget(window.done_page)
        shot("done")
        for code in ("bad_api_key", "notary_unreachable", "already_counted", "rejected",
                     "rate_limited", "network", "cancelled"):
            window.show_error(ContributionError(code))
            shot(f"error-{code.replace('_', '-')}")
        window.results_page.show_result(SAMPLE_RESULT, statistic_rows(SAMPLE_STATISTICS))
        window.stack.setCurrentWidget(window.results_page)
        shot("results")
        window.open_settings()
        shot("settings", window.settings_dialog)
        window.settings_dialog.reject()
        window._session_key = None
        window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m provider_app.screenshots OUTDIR", file=sys.stderr)
        return 2
    for path in render(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
