"""``mpcstats bench malicious`` (short form): well-formed deviations of one party at random positions.

The statistics family must never end with a wrong statistic that the honest parties sign, nor a
changed store; the DP family (noise sampled inside MPC) must abort on every deviation (issue 15:
active security with abort). A third test measures the overhead on a tiny pool, for the JSON
shape only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VERDICTS = {"detected", "wrong_signed", "wrong_stored", "correct_undetected", "unjudged",
            "other"}


def _bench(*args: str, timeout: float) -> dict:
    done = subprocess.run([sys.executable, "-m", "mpcstats.cli", "bench", "malicious", "--json",
                           *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[-1]) | {"_returncode": done.returncode, "_stderr": done.stderr}


def _counts_add_up(entry: dict) -> None:
    assert entry["runs"] == sum(entry[v] for v in VERDICTS)


def test_bench_malicious_statistics_are_never_wrong() -> None:
    report = _bench("--runs", "12", "--inputs", "12", "--families", "statistics",
                    "--skip-overhead", "--seed", "5", timeout=400)
    for key in ("runs", "detected", "wrong_signed", "wrong_stored", "correct_undetected",
                "by_kind", "by_family", "overhead"):
        assert key in report, key
    assert report["overhead"] is None
    assert set(report["by_family"]) == {"statistics"}
    assert set(report["by_kind"]) == {"shift", "consistent_shift", "wrong_prss",
                                      "wrong_permutation"}
    stats = report["by_family"]["statistics"]
    assert report["runs"] == stats["runs"] and report["detected"] == stats["detected"]
    for family in report["by_family"].values():
        _counts_add_up(family)
        assert family["positions"]["messages"] > 0 and family["positions"]["prss"] > 0
        for entry in family["by_kind"].values():
            _counts_add_up(entry)
    assert stats["runs"] + stats["not_applicable"] == 12
    assert stats["runs"] >= 9
    for kind in ("consistent_shift", "wrong_permutation"):
        assert stats["by_kind"][kind]["runs"] >= 2, kind
    # the claim of issue 15 for the statistics: detected or harmless, never wrong
    undetected = [u for u in report["undetected"] if u["family"] == "statistics"]
    assert stats["wrong_signed"] == 0, undetected
    assert stats["wrong_stored"] == 0, undetected
    assert report["_returncode"] == 0


def test_bench_malicious_dp_noise_cannot_be_shifted() -> None:
    """The DP family: a party that shifts a message, shifts consistently or uses a wrong PRSS
    share anywhere in a DP query (noise sampled inside MPC) makes both honest parties abort —
    an undetected run could not be judged (fresh noise), so none may be left."""
    report = _bench("--runs", "6", "--inputs", "12", "--families", "dp", "--skip-overhead",
                    "--seed", "7", timeout=300)
    dp = report["by_family"]["dp"]
    _counts_add_up(dp)
    assert dp["by_kind"]["wrong_permutation"]["runs"] == 0  # a DP query shuffles nothing
    for kind in ("shift", "consistent_shift", "wrong_prss"):
        assert dp["by_kind"][kind]["runs"] + dp["by_kind"][kind]["not_applicable"] == 2, kind
    assert dp["runs"] >= 4 and dp["detected"] == dp["runs"], report["undetected"]
    assert report["_returncode"] == 0


def test_bench_malicious_overhead_shape() -> None:
    report = _bench("--runs", "0", "--families", "statistics", "--inputs", "10",
                    "--overhead-n", "300", "--overhead-repeat", "1",
                    "--verify-overhead-batch", "1", "--verify-overhead-repeat", "1",
                    timeout=170)
    overhead = report["overhead"]
    assert report["runs"] == 0
    for key in ("mean_300", "median_300", "verify_batch1"):
        assert isinstance(overhead[key], float) and overhead[key] > 0, overhead
    for seconds in overhead["seconds"].values():
        assert set(seconds) == {"semi-honest", "malicious"}
