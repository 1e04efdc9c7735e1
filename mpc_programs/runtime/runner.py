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
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any



class MPCRunError(RuntimeError):
    """An MPC run failed or timed out; ``details`` holds each party's last words."""

    def __init__(self, message: str, details: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _bindable(port: int, host: str) -> bool:
    for address in {host, "0.0.0.0"}:  # MPyC listens on every interface
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that are free now, for processes that bind them later.

    They are drawn at random *below the kernel's ephemeral range*: a port from bind(0)
    is an ephemeral one, and any outgoing connection opened before the process that
    needs it binds can take it ("address already in use"), which happened under a
    busy test suite. Outside that range only a deliberate bind can collide.
    """
    low_ephemeral, _ = _ephemeral_range()
    low, high = 10_000, low_ephemeral - 1
    rng = random.SystemRandom()
    chosen: list[int] = []
    for _ in range(2000):
        if len(chosen) == count:
            return chosen
        port = rng.randrange(low, high) if high - low > 1000 else 0
        if port == 0:  # no room below the ephemeral range: fall back to the kernel's choice
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        if port not in chosen and _bindable(port, host):
            chosen.append(port)
    raise OSError("no free ports found")


_CODE_DIR = Path(__file__).resolve().parents[1] / "shares"


def party_command(pid: int, addresses: Sequence[tuple[str, int]], job_path: str | Path = "-",
                  ssl: bool = True) -> list[str]:
    """Command line of one party's MPC process; ``job_path="-"`` reads the job from stdin.

    ``ssl=False`` adds the development-only ``--insecure-local``: the party refuses to run
    MPC links without TLS otherwise.
    """
    cmd = [sys.executable, "-m", "mpc_programs.runtime.party_main"]
    for host, port in addresses:
        cmd += ["-P", f"{host}:{port}"]
    cmd += ["-I", str(pid), "--no-log"]
    cmd.append("--ssl" if ssl else "--insecure-local")
    cmd += ["--job", str(job_path)]
    return cmd


def local_pki(directory: str | Path, parties: int) -> list[Path]:
    """A fresh private CA and one working directory per party (``.config/`` with its certificate),
    for runs on one machine (tests, benches, demos): every local run uses TLS like a deployment.

    Returns the party directories; start party ``i``'s process with ``cwd`` = the i-th.
    """
    from servers.common.mpc_pki import generate_deployment  # a deploy-time tool: no HTTP in it
    return list(generate_deployment(directory, parties).party_dirs)


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


def start_party(pid: int, addresses: Sequence[tuple[str, int]], job: dict[str, Any],
                workdir: Path, *, stamp: str, ssl: bool = True, cwd: str | Path | None = None,
                env: dict[str, str] | None = None) -> PartyRun:
    """Start one party's MPC process; the job goes in through stdin, never to disk."""
    result_path = workdir / f"party{pid}-{stamp}.result.json"
    job = {**job, "result": str(result_path)}
    log_path = workdir / f"party{pid}-{stamp}.log"
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    child_env["MPCSTATS_PARENT_PID"] = str(os.getpid())  # see party_main._die_with_parent
    if "NUMBA_CACHE_DIR" not in child_env and not os.access(_CODE_DIR, os.W_OK):
        # compiled field arithmetic (shares/f192.py) is cached beside the code; a read-only
        # install caches it in the party's data directory instead of compiling every run
        child_env["NUMBA_CACHE_DIR"] = str(workdir.parent / "numba-cache")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(party_command(pid, addresses, "-", ssl=ssl),
                                   stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                   env=child_env, cwd=cwd, start_new_session=True)
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(job).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # the process died at once; its exit status tells why
    return PartyRun(pid, process, result_path, log_path)


def supervise(runs: Sequence[PartyRun], timeout: float) -> list[dict[str, Any]]:
    """Wait for every run; on a failure or at the deadline kill them all and raise."""
    try:
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
        return [json.loads(r.result_path.read_text()) for r in runs]
    finally:
        kill_all(runs)


def kill_all(runs: Sequence[PartyRun]) -> None:
    """Kill what still runs (with its process group) and remove result files."""
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


def run_local(jobs: Sequence[dict[str, Any]], workdir: str | Path, *, timeout: float = 300.0,
              host: str = "127.0.0.1", env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run one job per party (index = position) as local processes; return their results."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    addresses = [(host, p) for p in free_ports(len(jobs), host)]
    stamp = f"{time.time_ns()}"
    party_dirs = local_pki(workdir / f"pki-{stamp}", len(jobs))
    runs = []
    try:
        for pid, job in enumerate(jobs):
            runs.append(start_party(pid, addresses, job, workdir, stamp=stamp, env=env,
                                    cwd=party_dirs[pid]))
    except BaseException:
        kill_all(runs)
        raise
    return supervise(runs, timeout)


def _last_error(run: PartyRun) -> str:
    error_file = run.result_path.with_suffix(".error")
    if error_file.exists():
        try:
            return json.loads(error_file.read_text())["message"]
        except (OSError, ValueError, KeyError):
            pass
    lines = [line for line in _tail(run.log_path).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {run.process.returncode}"
