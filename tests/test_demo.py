"""The README's main command: the local demo end to end (servers, simulated providers of the
two-column pool, the statistics checked against the plaintext truth)."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_the_demo_counts_every_provider_and_matches_the_truth(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mpcstats.cli", "demo", "--providers", "12",
                          "--workdir", str(tmp_path), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["providers"] == report["accepted"] == 12
    assert report["stats"] == report["truth"]
    assert "linear_regression.slope" in run.stdout  # the two-column part ran and printed


def test_the_demo_needs_no_extras(tmp_path):
    """Issue 17: ``pip install mpcstats`` without extras, then ``mpcstats demo``: every process
    runs with the dev and GUI packages (trustme, pytest, PySide6, ...) made unimportable."""
    import os
    from pathlib import Path

    blocker = Path(__file__).parent / "no_dev_deps"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker), str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run([sys.executable, "-c", "import trustme"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "dev extra" in probe.stderr  # the blocker is active
    run = subprocess.run([sys.executable, "-m", "mpcstats.cli", "demo", "--providers", "10",
                          "--workdir", str(tmp_path), "--json"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["providers"] == report["accepted"] == 10
