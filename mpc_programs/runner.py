"""Launch MPC party processes and supervise them.

MPyC has no timeouts: when one party dies the others wait forever. Every run here
has a deadline; on expiry or on any party's failure all party processes are killed
and the run raises :class:`MPCRunError` — and since a party writes its result (and
its store) only at the very end, a failed run changes no stored state.

``party_command`` builds the command line for one party (a party server launches
only its own); ``run_local`` launches all three on loopback (tests, bench, demo).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpc_programs.jobs import write_json_atomic


class MPCRunError(RuntimeError):
    """An MPC run failed or timed out; ``details`` holds each party's last words."""

    def __init__(self, message: str, details: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def party_command(pid: int, addresses: Sequence[tuple[str, int]], job_path: str | Path,
                  ssl: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "mpc_programs.party_main"]
    for host, port in addresses:
        cmd += ["-P", f"{host}:{port}"]
    cmd += ["-I", str(pid), "--no-log"]
    if ssl:
        cmd.append("--ssl")
    cmd += ["--job", str(job_path)]
    return cmd


@dataclass
class PartyRun:
    pid: int
    process: subprocess.Popen[bytes]
    result_path: Path
    log_path: Path


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def run_local(jobs: Sequence[dict[str, Any]], workdir: str | Path, *, timeout: float = 300.0,
              host: str = "127.0.0.1", env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run one job per party (index = position) as 3 local processes; return their results."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ports = free_ports(len(jobs), host)
    addresses = [(host, p) for p in ports]
    stamp = f"{time.time_ns()}"
    runs: list[PartyRun] = []
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        for pid, job in enumerate(jobs):
            result_path = workdir / f"party{pid}-{stamp}.result.json"
            job = {**job, "result": str(result_path)}
            job_path = workdir / f"party{pid}-{stamp}.job.json"
            write_json_atomic(job_path, job)
            log_path = workdir / f"party{pid}-{stamp}.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(party_command(pid, addresses, job_path),
                                           stdout=log, stderr=subprocess.STDOUT,
                                           env=child_env, start_new_session=True)
            runs.append(PartyRun(pid, process, result_path, log_path))
        deadline = time.monotonic() + timeout
        while True:
            codes = [r.process.poll() for r in runs]
            if any(c not in (None, 0) for c in codes):
                failed = [r for r, c in zip(runs, codes) if c not in (None, 0)]
                raise MPCRunError(
                    f"MPC party {failed[0].pid} failed: {_last_error(failed[0])}",
                    {r.pid: _tail(r.log_path) for r in runs})
            if all(c == 0 for c in codes):
                break
            if time.monotonic() > deadline:
                raise MPCRunError(f"MPC run timed out after {timeout:.0f} s",
                                  {r.pid: _tail(r.log_path) for r in runs})
            time.sleep(0.02)
        outcomes = []
        for r in runs:
            outcomes.append(json.loads(r.result_path.read_text()))
        return outcomes
    finally:
        for r in runs:
            if r.process.poll() is None:
                try:
                    os.killpg(r.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                r.process.wait()
        for r in runs:
            for path in (r.result_path, r.result_path.with_suffix(".error")):
                path.unlink(missing_ok=True)
            for path in workdir.glob(f"party{r.pid}-{stamp}.job.json"):
                path.unlink(missing_ok=True)


def _last_error(run: PartyRun) -> str:
    error_file = run.result_path.with_suffix(".error")
    if error_file.exists():
        try:
            return json.loads(error_file.read_text())["message"]
        except (OSError, ValueError, KeyError):
            pass
    lines = [line for line in _tail(run.log_path).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {run.process.returncode}"
