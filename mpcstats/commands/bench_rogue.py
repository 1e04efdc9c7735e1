"""Rogue-party harness: one of the three parties is a rogue process with a valid certificate.

Two honest parties run the deployment's party program (``python -m mpc_programs.runtime.party_main
--ssl``, each in its own directory with its own certificate of a fresh private CA); party 0 is
``mpcstats.rogue_party``: the same program, the same CA, but one chosen message it sends goes
out as a pickle gadget, a wrong length, a wrong type, a value outside the field, a truncated
frame (then it goes away) or an oversized frame, or the rogue is killed (SIGKILL) where that
message was due: the time from the kill to the honest parties' abort. It attacks every label it sends under (or an
evenly spaced sample of them, ``--labels``), in a verification batch and in a statistics
query; and it connects with another party's certificate, once as the connecting side and once
as the listening side.

An attack is *aborted cleanly* when both honest parties stop with a non-zero status and a
recorded reason, within ``--abort-bound`` seconds of the attack, with their committed inputs
unchanged and no code of the rogue's run (the gadget would create a marker file). Prints one
JSON line::

    {"attacks": N, "code_ran": 0, "aborted_cleanly": N, "stores_unchanged": true,
     "max_abort_seconds": s, "median_abort_seconds": s, "by_kind": {...}, "failures": [...]}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpcstats.benchmarks import local_pool
from mpc_programs.verification import verify_inputs
from mpc_programs.statistics.query import parse_query
from mpc_programs.runtime.runner import PartyRun, free_ports, kill_all, start_party
from mpc_programs.shares import dealing
from mpc_programs.shares.encoding import one_hot
from mpc_programs.shares.store import encode_row
from mpcstats.benchmarks.synthetic_records import make_record, provider_input
from mpcstats.rogue_party import MALFORMED as ATTACKS  # the well-formed ones: bench_malicious
from servers.common.mpc_pki import generate_deployment

#: The rogue's party number for message attacks (it sends to both honest parties).
ROGUE = 0
POOL_SIZE = 12
#: Seconds the parties wait for all peers to connect (a deployment's default is 30): a rogue
#: that dies before an honest party reaches it is then reported within the abort bound.
CONNECT_TIMEOUT = 10
STATS_QUERY = {"statistics": ["count", "sum", "mean", "variance", "min", "max", "median"],
               "histogram_edges": ["1", "5"]}


@dataclass
class Outcome:
    """What one attack run did to the honest parties."""

    attack: str
    program: str
    index: int | None
    honest_codes: dict[int, int | None]
    honest_errors: dict[int, str]
    abort_seconds: float | None
    code_ran: bool
    stores_unchanged: bool
    applicable: bool = True
    notes: list[str] = field(default_factory=list)
    #: each honest party's result document (parties that finished)
    results: dict[int, Any] = field(default_factory=dict)
    #: what the rogue reported (counts, what it changed)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def aborted_cleanly(self) -> bool:
        return (self.applicable and not self.code_ran and self.stores_unchanged
                and all(c not in (0, None) for c in self.honest_codes.values())
                and all(self.honest_errors.get(p) for p in self.honest_codes)
                and self.abort_seconds is not None)


def committed_digest(store: Path) -> str:
    """A digest of a party's committed inputs (staged rows of an unfinished run excluded:
    the coordinator commits a run only when all three parties report success)."""
    if not store.exists():
        return "absent"
    data = json.loads(store.read_text() or "{}")
    data.pop("staged", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _submissions(count: int, seed: int = 11) -> list[list[dict[str, Any]]]:
    """Per-party verification documents for ``count`` honest synthetic providers, dealt as the
    provider app deals (``shares.dealing``: the layout and the key's bits, committed)."""
    rng = random.Random(seed)
    per_party: list[list[dict[str, Any]]] = [[], [], []]
    for k in range(count):
        record = make_record(rng, uid=5000 + k, balances={b"ETH": f"{k + 1}.25000000".encode()})
        dealt = dealing.deal_rows({dealing.LAYOUT: one_hot(record.units),
                                   dealing.KEY: dealing.key_bits(record.key)})
        for pid in range(3):
            rows = dealt.rows[pid]
            per_party[pid].append(verify_inputs.submission_to_json(
                f"rogue-{k}", provider_input(record, [0] * len(record.key)),
                encode_row(rows[dealing.LAYOUT]),
                dealing=(dealt.public, dealt.parts[pid],
                         {dealing.KEY: dealing.encode_elements(rows[dealing.KEY])})))
    return per_party


class Harness:
    """Shared set-up of every attack run: certificates, a stored pool, the two programs."""

    def __init__(self, workdir: Path, *, timeout: float, abort_bound: float,
                 security: str = local_pool.DEFAULT_SECURITY,
                 units: dict[str, int] | None = None, stats_query: dict[str, Any] | None = None,
                 verify_batch: int = 2, rogue_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.abort_bound = abort_bound
        self.rogue_env = dict(rogue_env or {})
        self.party_dirs = list(generate_deployment(workdir / "pki", 3).party_dirs)
        self.stores = local_pool.store_paths(workdir / "pool")
        if units is None:
            units = {f"input-{k:02d}": (k + 1) * 10_000_000 + k for k in range(POOL_SIZE)}
        self.units = dict(units)
        local_pool.ingest(self.stores, local_pool.share_pool(units), workdir / "ingest",
                          security=security)
        submissions = _submissions(verify_batch)
        self.submission_ids = [f"rogue-{k}" for k in range(verify_batch)]
        query = parse_query(stats_query if stats_query is not None else STATS_QUERY).to_json()
        self.programs: dict[str, list[dict[str, Any]]] = {
            "verify": [{"task": "verify", "store": str(self.stores[p]), "stage_only": True,
                        "run_id": "rogue-run", "submissions": submissions[p],
                        "security": security} for p in range(3)],
            "stats": [{"task": "stats", "store": str(self.stores[p]), "query": query,
                       "min_inputs": 10, "security": security} for p in range(3)],
        }
        self.marker = workdir / "CODE-RAN"
        self.runs = 0

    def wrong_certificate_dir(self, pid: int, borrowed_from: int) -> Path:
        """A working directory where party ``pid``'s certificate is party ``borrowed_from``'s."""
        target = self.workdir / f"wrong-cert-{pid}"
        config = target / ".config"
        if not config.exists():
            source = self.party_dirs[borrowed_from] / ".config"
            config.mkdir(parents=True)
            shutil.copy(source / "mpyc_ca.crt", config / "mpyc_ca.crt")
            shutil.copy(source / f"party_{borrowed_from}.crt", config / f"party_{pid}.crt")
            shutil.copy(source / f"party_{borrowed_from}.key", config / f"party_{pid}.key")
        return target

    def run(self, program: str, attack: str, index: int | None = None, *,
            rogue: int = ROGUE, rogue_dir: Path | None = None) -> tuple[Outcome, dict[str, Any]]:
        """One run with party ``rogue`` replaced; returns the outcome and the rogue's report."""
        self.runs += 1
        stamp = f"{time.time_ns()}"
        rundir = self.workdir / "runs" / stamp
        rundir.mkdir(parents=True)
        report_path = rundir / "rogue.json"
        addresses = [("127.0.0.1", port) for port in free_ports(3)]
        honest_pids = [p for p in range(3) if p != rogue]
        before = {p: committed_digest(self.stores[p]) for p in honest_pids}
        jobs = self.programs[program]
        runs: list[PartyRun] = []
        results: dict[int, Any] = {}
        rogue_process = None
        started = time.time()
        try:
            env = dict(os.environ)
            env.setdefault("MPCSTATS_MPC_CONNECT_TIMEOUT", str(CONNECT_TIMEOUT))
            for pid in honest_pids:
                runs.append(start_party(pid, addresses, jobs[pid], rundir, stamp=stamp, ssl=True,
                                        cwd=self.party_dirs[pid], env=env))
            rogue_process = self._start_rogue(rogue, addresses, jobs[rogue], rundir,
                                              rogue_dir or self.party_dirs[rogue], attack, index,
                                              report_path)
            exits = self._wait(runs)
            for r in runs:  # before kill_all removes them
                try:
                    results[r.pid] = json.loads(r.result_path.read_text())
                except (OSError, ValueError):
                    pass
        finally:
            kill_all(runs)
            if rogue_process is not None:
                if rogue_process.poll() is None:
                    rogue_process.kill()
                rogue_process.wait()
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        fired = report.get("at", started if attack.startswith("wrong_certificate") else None)
        errors = {r.pid: _error_text(r) for r in runs}
        finished = [t for t in exits.values() if t is not None]
        abort = (max(finished) - fired) if fired is not None and len(finished) == len(runs) \
            and attack != "count" else None
        after = {p: committed_digest(self.stores[p]) for p in honest_pids}
        outcome = Outcome(attack, program, index, {r.pid: r.process.returncode for r in runs},
                          errors, abort, self.marker.exists(), before == after,
                          applicable=not report.get("not_applicable")
                          and (fired is not None or attack == "count"),
                          results=results, report=report)
        shutil.rmtree(rundir, ignore_errors=True)
        return outcome, report

    def _start_rogue(self, pid: int, addresses: Sequence[tuple[str, int]], job: dict[str, Any],
                     rundir: Path, cwd: Path, attack: str, index: int | None,
                     report: Path) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "mpcstats.rogue_party"]
        for host, port in addresses:
            cmd += ["-P", f"{host}:{port}"]
        cmd += ["-I", str(pid), "--no-log", "--ssl", "--job", "-"]
        env = dict(os.environ, MPCSTATS_ROGUE_ATTACK="count" if attack.startswith("wrong_cert")
                   else attack, MPCSTATS_ROGUE_AT=str(-1 if index is None else index),
                   MPCSTATS_ROGUE_REPORT=str(report), MPCSTATS_ROGUE_MARKER=str(self.marker),
                   MPCSTATS_PARENT_PID=str(os.getpid()), **self.rogue_env)
        env.setdefault("MPCSTATS_MPC_CONNECT_TIMEOUT", str(CONNECT_TIMEOUT))
        log = open(rundir / f"rogue{pid}.log", "wb")
        with log:
            process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log,
                                       stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                       start_new_session=True)
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps({**job, "result": str(rundir / "rogue.result.json")})
                                .encode())
            process.stdin.close()
        except BrokenPipeError:
            pass
        return process

    def _wait(self, runs: Sequence[PartyRun]) -> dict[int, float | None]:
        """Wall-clock exit time of each honest party (None: still running at the deadline)."""
        exits: dict[int, float | None] = {r.pid: None for r in runs}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and any(v is None for v in exits.values()):
            for r in runs:
                if exits[r.pid] is None and r.process.poll() is not None:
                    exits[r.pid] = time.time()
            time.sleep(0.01)
        return exits

    def counts(self, program: str) -> int:
        """How many messages the rogue sends each honest party in ``program`` (an honest run)."""
        outcome, report = self.run(program, "count")
        if any(code != 0 for code in outcome.honest_codes.values()):
            raise RuntimeError(f"the {program} program fails without any attack: "
                               f"{outcome.honest_errors}")
        counts = report.get("counts", {})
        return min(int(counts.get(str(p), 0)) for p in range(3) if p != ROGUE)


def _error_text(run: PartyRun) -> str:
    error_file = run.result_path.with_suffix(".error")
    try:
        return json.loads(error_file.read_text())["message"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        lines = [line for line in run.log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines and run.process.returncode not in (0, None) else ""


def choose_labels(count: int, labels: int | None) -> list[int]:
    """Every message index, or ``labels`` evenly spaced ones (the first and last included)."""
    if labels is None or labels >= count:
        return list(range(count))
    if labels <= 1:
        return [0]
    return sorted({round(i * (count - 1) / (labels - 1)) for i in range(labels)})


def run_harness(workdir: Path, *, labels: int | None, kinds: Sequence[str] = ATTACKS,
                programs: Sequence[str] = ("verify", "stats"), certificates: bool = True,
                timeout: float = 60.0, abort_bound: float = 30.0,
                progress: Any = None) -> dict[str, Any]:
    """Run every attack; return the summary (see module doc)."""
    harness = Harness(workdir, timeout=timeout, abort_bound=abort_bound)
    outcomes: list[Outcome] = []
    labels_sent: dict[str, int] = {}
    for program in programs:
        sent = labels_sent[program] = harness.counts(program)
        for kind in kinds:
            for index in choose_labels(sent, labels):
                outcome, _ = harness.run(program, kind, index)
                outcomes.append(outcome)
                if progress:
                    progress(outcome)
    if certificates:
        # party 0 connects out to 1 and 2 holding party 2's certificate
        outcome, _ = harness.run("stats", "wrong_certificate_connecting", rogue=0,
                                 rogue_dir=harness.wrong_certificate_dir(0, 2))
        outcomes.append(outcome)
        # party 1 listens for 0 and connects to 2, holding party 2's certificate
        outcome, _ = harness.run("stats", "wrong_certificate_listening", rogue=1,
                                 rogue_dir=harness.wrong_certificate_dir(1, 2))
        outcomes.append(outcome)
    return {**summarize(outcomes, abort_bound), "labels_per_peer": labels_sent}


def summarize(outcomes: Sequence[Outcome], abort_bound: float) -> dict[str, Any]:
    applicable = [o for o in outcomes if o.applicable]
    clean = [o for o in applicable if o.aborted_cleanly and o.abort_seconds is not None
             and o.abort_seconds <= abort_bound]
    times = [o.abort_seconds for o in applicable if o.abort_seconds is not None]
    by_kind: dict[str, dict[str, Any]] = {}
    for o in applicable:
        entry = by_kind.setdefault(o.attack, {"attacks": 0, "aborted_cleanly": 0, "seconds": []})
        entry["attacks"] += 1
        entry["aborted_cleanly"] += o in clean
        if o.abort_seconds is not None:
            entry["seconds"].append(o.abort_seconds)
    for entry in by_kind.values():
        seconds = entry.pop("seconds")
        entry["median_abort_seconds"] = round(statistics.median(seconds), 3) if seconds else None
    return {
        "attacks": len(applicable),
        "code_ran": sum(o.code_ran for o in applicable),
        "aborted_cleanly": len(clean),
        "stores_unchanged": all(o.stores_unchanged for o in outcomes),
        "max_abort_seconds": round(max(times), 3) if times else None,
        "median_abort_seconds": round(statistics.median(times), 3) if times else None,
        "not_applicable": len(outcomes) - len(applicable),
        "by_kind": by_kind,
        "failures": [{"attack": o.attack, "program": o.program, "index": o.index,
                      "codes": o.honest_codes, "errors": o.honest_errors,
                      "abort_seconds": o.abort_seconds}
                     for o in applicable if o not in clean][:20],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", type=int, default=6,
                        help="message indices attacked per program and kind, evenly spaced "
                             "(default 6)")
    parser.add_argument("--all-labels", action="store_true", help="attack every message index")
    parser.add_argument("--kinds", nargs="+", choices=ATTACKS, default=list(ATTACKS))
    parser.add_argument("--abort-bound", type=float, default=30.0,
                        help="seconds within which an abort counts as clean (default 30)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the run files here")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def run(args: argparse.Namespace) -> int:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mpcstats-rogue-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def progress(o: Outcome) -> None:
        if not args.json:
            verdict = ("not applicable" if not o.applicable
                       else "aborted cleanly" if o.aborted_cleanly else "NOT CLEAN")
            seconds = f"{o.abort_seconds:.2f} s" if o.abort_seconds is not None else "-"
            print(f"{o.program:6} {o.attack:18} message {o.index}: {verdict} ({seconds})",
                  file=sys.stderr)
    try:
        summary = run_harness(workdir, labels=None if args.all_labels else args.labels,
                              kinds=args.kinds, abort_bound=args.abort_bound, progress=progress)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary))
    clean = summary["code_ran"] == 0 and summary["stores_unchanged"] \
        and summary["aborted_cleanly"] == summary["attacks"]
    return 0 if clean else 1
