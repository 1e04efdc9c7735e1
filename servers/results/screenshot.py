"""Save a screenshot of the results page: ``python -m servers.results.screenshot OUT.png``.

Starts a results API on loopback fed by three stand-in parties that sign a sample result
(:mod:`servers.results.sample`), renders ``GET /`` in headless Chromium and writes the PNG.
``--empty`` shows the page before any result ("Not enough providers yet").
Needs Chromium (``scripts/install-browser``).
"""

from __future__ import annotations

import argparse
import sys

from servers.results.browser import BrowserError, png_size, screenshot
from servers.results.sample import SampleDeployment, sample_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.results.screenshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--n", type=int, default=240, help="providers in the sample pool (default 240)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=1900)
    parser.add_argument("--empty", action="store_true", help="the page before any result")
    args = parser.parse_args(argv)
    with SampleDeployment() as deployment:
        if not args.empty:
            deployment.publish(sample_result(n=args.n, seed=args.seed))
        try:
            out = screenshot(deployment.url + "/", args.out, width=args.width, height=args.height)
        except BrowserError as exc:
            print(f"screenshot failed: {exc}", file=sys.stderr)
            return 1
    width, height = png_size(out)
    print(f"{out} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
