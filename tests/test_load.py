"""The load benchmark in its short form: a few clients for a few seconds against a real deployment.

The long form (``mpcstats bench load --json``: 200 clients, 30 s) is a benchmark, not a test; its
figures are in the README. This checks the same properties at CI size: the rate limit answers the
excess with 429 and nothing is ever a 5xx or left unanswered.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_short_load_no_5xx_some_429_and_sane_latency() -> None:
    result = subprocess.run([sys.executable, "-m", "mpcstats.cli", "bench", "load", "--clients", "20",
                             "--seconds", "4", "--providers", "1", "--notarized", "1", "--json"],
                            capture_output=True, text=True, timeout=240)
    assert result.stdout.strip(), result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    counts = report["status_counts"]
    assert result.returncode == 0, (report, result.stderr[-3000:])
    assert not any(status.startswith("5") for status in counts), counts
    assert counts.get("error", 0) == 0, counts
    assert counts.get("429", 0) > 0, counts  # the coordinator's per-client limit (5/s, burst 20) holds
    assert counts.get("200", 0) > 0 and report["by_endpoint"]["stats"].get("200", 0) > 0, counts
    # valid re-posted registrations (409 duplicate) and each kind of invalid one were answered
    registrations = report["by_endpoint"]["registrations"]
    assert {"400", "403", "409", "422"} <= set(registrations), registrations
    assert report["stats_p99_ms"] is not None and report["stats_p99_ms"] < 2000, report
    assert report["servers_alive"] is True
    assert report["rss_growth_mib"] < 100, report
