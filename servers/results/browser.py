"""Headless Chromium, for the results page's browser tests and screenshots (never used by a server).

One short-lived browser process per call, with a throw-away profile and everything that talks to the
network on its own (updates, sync, QUIC, background fetches) switched off, so a test run on a CI machine
sends nothing anywhere but the loopback page. Install the browser with ``scripts/install-browser``
(Debian/Ubuntu package ``chromium``); ``MPCSTATS_CHROMIUM`` points at another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--hide-scrollbars", "--mute-audio")


class BrowserError(RuntimeError):
    """Chromium is missing, failed, or produced nothing."""


def find_chromium() -> str | None:
    """The browser to use: ``$MPCSTATS_CHROMIUM``, else the first of :data:`CANDIDATES` on ``PATH``."""
    configured = os.environ.get("MPCSTATS_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    binary = find_chromium()
    if binary is None:
        raise BrowserError("Chromium not found: run scripts/install-browser or set MPCSTATS_CHROMIUM")
    with tempfile.TemporaryDirectory(prefix="mpcstats-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"Chromium did not finish in {timeout} s") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise BrowserError(f"Chromium exited with {done.returncode}: {' | '.join(tail)}")
    return done


def dump_dom(url: str, *, timeout: float = 30.0) -> str:
    """The page's DOM after load, serialized as HTML — what a user's browser made of the page."""
    html = _run(["--dump-dom", url], timeout).stdout.decode("utf-8", errors="replace")
    if "<html" not in html:
        raise BrowserError(f"Chromium returned no document for {url}")
    return html


def screenshot(url: str, out: str | Path, *, width: int = 1100, height: int = 1500,
               timeout: float = 30.0) -> Path:
    """Save a PNG of ``url`` rendered at ``width`` × ``height`` CSS pixels; returns the path."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    _run([f"--window-size={width},{height}", f"--screenshot={out}", url], timeout)
    if not out.is_file() or out.stat().st_size == 0:
        raise BrowserError(f"Chromium wrote no screenshot to {out}")
    return out


def png_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise BrowserError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
