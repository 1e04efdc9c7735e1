"""Run an MPyC program as m local party processes on free loopback ports (bench and tests).

Each party is started explicitly (``-P host:port`` for every party, ``-I i``) rather than with
``-M3``, so runs never collide on MPyC's fixed default ports. MPyC has no timeouts (a dead peer
hangs the others), so the whole run has one deadline after which the processes started here are
killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mpc_programs.runner import free_ports

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PartyResult:
    pid: int
    returncode: int
    stdout: str
    stderr: str


def run_parties(argv: list[str], m: int = 3, timeout: float = 120.0) -> list[PartyResult]:
    """Run ``python <argv...>`` (e.g. ``["-m", "mpc_programs.verify_demo", ...]``) as m parties."""
    ports = free_ports(m)
    addrs = [arg for port in ports for arg in ("-P", f"127.0.0.1:{port}")]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    procs = [subprocess.Popen([sys.executable, *argv, *addrs, "-I", str(i)], cwd=_ROOT, env=env,
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
