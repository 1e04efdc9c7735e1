"""Run an MPyC program as m local party processes on free loopback ports (bench and tests).

Every run uses TLS between the parties, like a deployment: a fresh private CA per run
(``runner.local_pki``), each party started in its own directory holding its certificate.
Each party is started explicitly (``-P host:port`` for every party, ``-I i``) rather than with
``-M3``, so runs never collide on MPyC's fixed default ports. MPyC has no timeouts (a dead peer
hangs the others), so the whole run has one deadline after which the processes started here are
killed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mpc_programs.runtime.runner import free_ports, local_pki

_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PartyResult:
    pid: int
    returncode: int
    stdout: str
    stderr: str


def run_parties(argv: list[str], m: int = 3, timeout: float = 120.0) -> list[PartyResult]:
    """Run ``python <argv...>`` (e.g. ``["-m", "mpcstats.benchmarks.verify_demo", ...]``) as m parties.

    A script path in ``argv`` is taken relative to the repository root.
    """
    with tempfile.TemporaryDirectory(prefix="mpcstats-parties-") as pki:
        return _run(argv, m, timeout, local_pki(pki, m))


def _run(argv: list[str], m: int, timeout: float, party_dirs: list[Path]) -> list[PartyResult]:
    ports = free_ports(m)
    addrs = [arg for port in ports for arg in ("-P", f"127.0.0.1:{port}")]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    argv = [str(_ROOT / a) if a.endswith(".py") and not os.path.isabs(a) else a for a in argv]
    procs = [subprocess.Popen([sys.executable, *argv, *addrs, "-I", str(i), "--ssl"],
                              cwd=party_dirs[i], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(m)]
    deadline = time.monotonic() + timeout
    results = []
    try:
        for i, proc in enumerate(procs):
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            results.append(PartyResult(i, proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            proc.communicate()
        raise
    return results
