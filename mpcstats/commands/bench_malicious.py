"""``mpcstats bench malicious --json``: well-formed deviations of one party, and the cost of catching them.

Active security with abort (issue 15) must turn every deviation of one party into an abort of the
two honest ones, or into no harm at all — never a wrong statistic that all three sign, never a
changed store. This bench measures that with ``bench rogue``'s harness (two honest party
processes running the deployment's party program, TLS on, real stores; party 0 is
``mpcstats.rogue_party`` with a valid certificate) and the *well-formed* deviations of
:data:`mpcstats.rogue_party.WELL_FORMED`:

``shift``
    δ = 1 added to one field element (chosen at random) of the k-th message the rogue sends
    each honest party (a GF(2^8) message: one bit of one byte flipped);
``consistent_shift``
    the additive attack proper: the same element to every peer j gets δ·(x_j − x_self), so a
    resharing leaves the honest parties a valid sharing of a wrong value that no opening check
    can see (only the product check);
``wrong_prss``
    δ = 1 added to one element of the k-th pseudorandom share the rogue computes;
``wrong_permutation``
    two entries of the k-th shuffle permutation the rogue holds with a pair partner swapped
    (the oblivious sort of Gini).

Per family (``statistics``: one query — count, mean, variance, min, max, median, a quantile, a
histogram, the mode, Gini and the geometric and harmonic means (compared within 1e-8 relative:
they are fixed-point) — over a pool of ``--inputs`` random balances; ``verification``: a
verification batch of ``--verify-batch`` honest providers, AES-GCM in GF(2^8); ``dp``: a
differentially private query (:data:`DP_QUERY`: sum, mean, variance, median, histogram), whose
noise is sampled inside MPC) and kind, an honest ``count`` run learns how many messages and PRSS
computations there are, then the deviation runs at random positions (``--seed``), as many as
``--runs`` per family in all (split evenly over the kinds the family has targets for: a DP query
shuffles nothing). Each run is one of:

``detected``
    both honest parties aborted with a recorded reason, their committed inputs unchanged;
``wrong_signed``
    the honest parties finished with a result other than the truth: for statistics, one that
    differs from the plaintext statistics of the pool (``plaintext.table_statistics``); for
    verification, verdicts other than the honest run's (an honest provider rejected or a layout
    staged that should not be);
``wrong_stored``
    an honest party's committed inputs changed;
``correct_undetected``
    the honest parties finished with the correct result (the deviation hit a value that was
    never used, or cancelled out);
``unjudged``
    (``dp`` only) the honest parties finished a DP query: its noise is fresh in every run, so
    the result cannot be compared with a truth; counted against the defence (the exit status
    fails on it, as on ``wrong_signed``);
``other``
    anything else (one honest party aborted and the other finished, a run that hung).

Positions where the chosen message holds no field element (a digest string) are reported as
``not_applicable`` and not counted as runs. The top-level counts and ``by_kind`` are the
statistics family's; ``by_family`` holds every family run. ``overhead`` is the malicious /
semi-honest wall-time ratio measured in the same invocation: the mean and the median over ``--overhead-n``
(default 10,000) stored inputs (three fresh party processes per query, as ``bench scale``; the
ratio of the parties' own MPC seconds, start-up and load excluded, is under ``mpc_ratio``), and
``bench verify``'s batch of ``--verify-overhead-batch`` (default 32) providers (its median
seconds per batch). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import statistics as stats
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from mpc_programs.statistics import plaintext
from mpc_programs.statistics.query import parse_query
from mpcstats.commands.bench_rogue import Harness, Outcome
from mpcstats.rogue_party import WELL_FORMED

#: The statistics query attacked (the order statistics, the sum, the count in one run).
QUERY: dict[str, Any] = {"statistics": ["count", "mean", "variance", "min", "max", "median",
                                        "quantiles", "histogram", "mode", "gini",
                                        "geometric_mean", "harmonic_mean"],
                         "quantiles": ["0.25"], "histogram_edges": ["0.5", "50"]}
#: The DP query attacked: every DP mechanism of one column, the noise drawn inside MPC.
DP_QUERY: dict[str, Any] = {"statistics": ["count", "sum", "mean", "variance", "median",
                                           "histogram"],
                            "histogram_edges": ["50"],
                            "privacy": {"epsilon": {"sum": "1", "variance": "1", "quantiles": "1",
                                                    "histogram": "1"}, "clip": "10000"}}
FAMILIES = {"statistics": "stats", "verification": "verify", "dp": "dp"}
#: The harness's statistics job publishes nothing below this many inputs.
MIN_INPUTS = 10
VERDICTS = ("detected", "wrong_signed", "wrong_stored", "correct_undetected", "unjudged",
            "other")


def pool_units(n: int, seed: int) -> dict[str, int]:
    """``n`` random balances (units) over several magnitudes, with a tie."""
    rng = random.Random(seed)
    units = {f"input-{k:04d}": rng.randrange(1, 10 ** rng.randrange(6, 12)) for k in range(n)}
    if n >= 2:
        units["input-0001"] = units["input-0000"]
    return units


def _verification_view(result: dict[str, Any]) -> Any:
    return (sorted(result.get("accepted", [])), sorted(result.get("rejected", {})))


class Bench:
    """The deviation runs of both families over one harness."""

    def __init__(self, workdir: Path, *, n: int, seed: int, verify_batch: int,
                 timeout: float, query: dict[str, Any] = QUERY) -> None:
        self.seed = seed
        self.units = pool_units(n, seed)
        self.query = parse_query(query)
        self.truth = plaintext.table_statistics(
            self.query, [{"balance": self.units[i]} for i in sorted(self.units)])
        self.harness = Harness(workdir, timeout=timeout, abort_bound=timeout,
                               units=self.units, stats_query=query, verify_batch=verify_batch,
                               rogue_env={"MPCSTATS_ROGUE_SEED": str(seed)})
        self.harness.programs["dp"] = [dict(job, query=parse_query(DP_QUERY).to_json())
                                       for job in self.harness.programs["stats"]]
        pool = self.harness.stores[0].parents[1]
        self.pool, self.snapshot = pool, pool.with_name("pool-snapshot")
        shutil.copytree(pool, self.snapshot)
        self.reference: dict[str, Any] = {}

    def _restore(self) -> None:
        """Put the stores back as ingested: a verification run stages rows."""
        shutil.rmtree(self.pool)
        shutil.copytree(self.snapshot, self.pool)

    def run(self, program: str, kind: str, index: int | None = None) -> Outcome:
        self._restore()
        # a fresh element choice per run (a position drawn twice is still a new fault)
        self.harness.rogue_env["MPCSTATS_ROGUE_SEED"] = f"{self.seed}{self.harness.runs:06d}"
        outcome, _ = self.harness.run(program, kind, index)
        return outcome

    def learn(self, family: str) -> dict[str, int]:
        """An honest run: how many messages (per peer) and PRSS computations; its result is the
        verification family's reference, and the statistics must equal the truth."""
        program = FAMILIES[family]
        outcome = self.run(program, "count")
        if any(code != 0 for code in outcome.honest_codes.values()) or len(outcome.results) != 2:
            raise RuntimeError(f"the {family} program fails without any deviation: "
                               f"{outcome.honest_errors}")
        views = [self._view(family, r) for r in outcome.results.values()]
        if family == "statistics" and not _same(views[0], self.truth):
            raise RuntimeError(f"the honest statistics {views[0]} differ from the plaintext "
                               f"truth {self.truth}")
        self.reference[family] = views[0]
        counts = outcome.report.get("counts", {})
        return {"messages": min(int(counts.get(str(p), 0)) for p in (1, 2)),
                "prss": int(outcome.report.get("prss_calls", 0)),
                "permutations": int(outcome.report.get("permutation_calls", 0))}

    def _view(self, family: str, result: dict[str, Any]) -> Any:
        return result.get("statistics") if family == "statistics" else _verification_view(result)

    def classify(self, family: str, outcome: Outcome) -> str:
        if not outcome.stores_unchanged:
            return "wrong_stored"
        codes = list(outcome.honest_codes.values())
        if all(c not in (0, None) for c in codes) \
                and all(outcome.honest_errors.get(p) for p in outcome.honest_codes):
            return "detected"
        if family == "dp" and any(c == 0 for c in codes):
            return "unjudged"  # fresh noise: no truth to compare with
        if all(c == 0 for c in codes):
            views = [self._view(family, outcome.results.get(p, {})) for p in outcome.honest_codes]
            return ("correct_undetected" if all(_same(v, self.reference[family]) for v in views)
                    else "wrong_signed")
        finished = [p for p, c in outcome.honest_codes.items() if c == 0]
        if any(not _same(self._view(family, outcome.results.get(p, {})), self.reference[family])
               for p in finished):
            return "wrong_signed"  # one honest party would sign a wrong result
        return "other"


#: Fixed-point statistics: their last digits vary with the truncations' randomness (within
#: 1e-9 relative, docs/statistics.md), so a run is right when within this of the truth.
APPROXIMATE = {"geometric_mean": 1e-8, "harmonic_mean": 1e-8}


def _same(got: Any, want: Any) -> bool:
    """The same published result: exact, except the fixed-point statistics (APPROXIMATE)."""
    if not (isinstance(got, dict) and isinstance(want, dict)) or got.keys() != want.keys():
        return got == want
    for name, value in want.items():
        if name in APPROXIMATE and value not in (None, "0") and got[name] not in (None, "0"):
            if abs(Decimal(got[name]) - Decimal(value)) > Decimal(APPROXIMATE[name]) * abs(
                    Decimal(value)):
                return False
        elif got[name] != value:
            return False
    return True


def _positions(count: int, runs: int, rng: random.Random) -> list[int]:
    if count <= 0 or runs <= 0:
        return []
    if runs <= count:
        return sorted(rng.sample(range(count), runs))
    return sorted(rng.randrange(count) for _ in range(runs))


def _empty() -> dict[str, Any]:
    return {"runs": 0, **{v: 0 for v in VERDICTS}, "not_applicable": 0}


def run_family(bench: Bench, family: str, runs: int, kinds: Sequence[str], seed: int,
               progress: Callable[[str], None]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every deviation run of one family: its totals, by kind, and the notable runs."""
    if runs <= 0:
        return {**_empty(), "positions": None, "by_kind": {}}, []
    sizes = bench.learn(family)
    progress(f"{family}: {sizes['messages']} messages per peer, {sizes['prss']} PRSS computations")
    rng = random.Random(f"{seed}:{family}")
    total = _empty()
    total["positions"] = sizes
    by_kind: dict[str, dict[str, Any]] = {}
    notes: list[dict[str, Any]] = []
    targets = {kind: {"wrong_prss": sizes["prss"],
                      "wrong_permutation": sizes["permutations"]}.get(kind, sizes["messages"])
               for kind in kinds}
    aimed = [kind for kind in kinds if targets[kind] > 0]  # e.g. no shuffle in a DP query
    share, extra = divmod(runs, len(aimed)) if aimed else (0, 0)
    for kind in kinds:
        entry = by_kind[kind] = _empty()
        if kind not in aimed:
            continue
        k = aimed.index(kind)
        for index in _positions(targets[kind], share + (k < extra), rng):
            outcome = bench.run(FAMILIES[family], kind, index)
            if not outcome.applicable:
                entry["not_applicable"] += 1
                total["not_applicable"] += 1
                continue
            verdict = bench.classify(family, outcome)
            for bucket in (entry, total):
                bucket["runs"] += 1
                bucket[verdict] += 1
            where = (outcome.report.get("prss") or outcome.report.get("permutation")
                     or outcome.report.get("shifted"))
            progress(f"{family} {kind} #{index}: {verdict} {json.dumps(where)[:160]}")
            if verdict != "detected":
                notes.append({"family": family, "kind": kind, "index": index, "verdict": verdict,
                              "where": where, "codes": outcome.honest_codes,
                              "errors": {p: e[:300] for p, e in outcome.honest_errors.items()},
                              "results": {p: bench._view(family, r)
                                          for p, r in outcome.results.items()}})
            else:
                step = next(iter(outcome.honest_errors.values()), "")
                entry.setdefault("abort_reasons", {})
                reason = _reason(step)
                entry["abort_reasons"][reason] = entry["abort_reasons"].get(reason, 0) + 1
    total["by_kind"] = by_kind
    return total, notes


def _reason(message: str) -> str:
    """A short class of an abort message (which check caught the deviation)."""
    import re

    message = re.sub(r"^party \d+: (MPC run aborted|error): ", "", message)
    if "product check failed at" in message:
        return "product check: " + message.split("product check failed at", 1)[1] \
            .split(":")[0].strip()
    for key in ("opening check failed", "malformed", "sent a value", "sent something other",
                "disagree", "timed out", "connection"):
        if key in message:
            return key
    return message.split(" (")[0][:80]


# -- overhead --------------------------------------------------------------------------------

def _share_pool(units: dict[str, int]) -> list[dict[str, str]]:
    from mpcstats.benchmarks.pool_sharing import share_layouts_bytes

    ids = list(units)
    per_party = share_layouts_bytes([units[i] for i in ids])
    return [{i: base64.b64encode(row.tobytes()).decode("ascii") for i, row in zip(ids, rows)}
            for rows in per_party]


def measure_overhead(n: int, repeat: int, verify_batch: int, verify_repeat: int, seed: int,
                     progress: Callable[[str], None], timeout: float = 3600.0) -> dict[str, Any]:
    """malicious / semi-honest wall time: mean and median over n inputs, a verification batch."""
    from mpcstats.benchmarks import local_pool
    from mpcstats.benchmarks.bench_mpc import _random_balances

    out: dict[str, Any] = {"n": n, "verify_batch": verify_batch, "seconds": {}}
    units = _random_balances(n, seed)
    with tempfile.TemporaryDirectory(prefix="mpcstats-overhead-") as workdir:
        stores = local_pool.store_paths(workdir)
        ordered = sorted(units)
        for start in range(0, n, 10_000):
            chunk = {i: units[i] for i in ordered[start:start + 10_000]}
            done = local_pool.ingest(stores, _share_pool(chunk), workdir, timeout=timeout)
            if len(done["accepted"]) != len(chunk):
                raise RuntimeError(f"ingestion rejected inputs: {done['rejected']}")
        progress(f"overhead: {n} inputs ingested")
        for name in ("mean", "median"):
            query = parse_query({"statistics": [name]})
            truth = plaintext.table_statistics(query, [{"balance": units[i]} for i in ordered])
            walls: dict[str, list[float]] = {"semi-honest": [], "malicious": []}
            inside: dict[str, list[float]] = {"semi-honest": [], "malicious": []}
            for _ in range(repeat):  # interleaved: drift of the machine hits both alike
                for level in walls:
                    t = time.perf_counter()
                    outcomes = local_pool.statistics(stores, query, workdir, timeout=timeout,
                                                     security=level)
                    walls[level].append(time.perf_counter() - t)
                    inside[level].append(max(sum(v for k, v in o["seconds"].items()
                                                 if k != "load") for o in outcomes))
                    if outcomes[0]["statistics"] != truth:
                        raise RuntimeError(f"{name} ({level}) is wrong: "
                                           f"{outcomes[0]['statistics']} != {truth}")
            seconds = {level: round(stats.median(w), 3) for level, w in walls.items()}
            out["seconds"][f"{name}_{n}"] = seconds
            out[f"{name}_{_label(n)}"] = round(seconds["malicious"] / seconds["semi-honest"], 3)
            mpc = {level: round(stats.median(v), 3) for level, v in inside.items()}
            out.setdefault("mpc_seconds", {})[f"{name}_{n}"] = mpc
            out.setdefault("mpc_ratio", {})[f"{name}_{_label(n)}"] = \
                round(mpc["malicious"] / mpc["semi-honest"], 3) if mpc["semi-honest"] else None
            progress(f"overhead: {name} at n={n}: wall {seconds}, inside MPC {mpc}")
    seconds = {level: _verify_seconds(verify_batch, verify_repeat, level, timeout)
               for level in ("semi-honest", "malicious")}
    out["seconds"][f"verify_batch{verify_batch}"] = seconds
    out[f"verify_batch{verify_batch}"] = round(seconds["malicious"] / seconds["semi-honest"], 3)
    progress(f"overhead: verification batch of {verify_batch}: {seconds}")
    return out


def _label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)


def _verify_seconds(batch: int, repeat: int, level: str, timeout: float) -> float:
    """``bench verify``'s median seconds per batch (the parties' own timing) at ``level``."""
    from mpc_programs.runtime.local_parties import run_parties

    results = run_parties(["-m", "mpcstats.benchmarks.verify_demo", "--json", "--batch",
                           str(batch), "--repeat", str(repeat), "--response-bytes", "40000",
                           "--security", level], timeout=timeout)
    reports = []
    for r in results:
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        if r.returncode != 0 or not lines:
            raise RuntimeError(f"verify_demo party {r.pid} failed ({r.returncode}): "
                               f"{r.stderr[-1000:]}")
        reports.append(json.loads(lines[-1]))
    return round(stats.median(rep["seconds"] for rep in reports), 4)


# -- command ---------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=200,
                        help="deviation runs per family, split evenly over the kinds (default 200)")
    # (not "--n": MPyC, imported with the rogue harness, reads "--n" as its "--no-…" options)
    parser.add_argument("--inputs", dest="n", type=int, default=24,
                        help="inputs N in the attacked statistics pool (default 24)")
    parser.add_argument("--verify-batch", type=int, default=2,
                        help="providers in the attacked verification batch (default 2)")
    parser.add_argument("--kinds", nargs="+", choices=WELL_FORMED, default=list(WELL_FORMED))
    parser.add_argument("--families", nargs="+", choices=sorted(FAMILIES),
                        default=list(FAMILIES))
    parser.add_argument("--seed", type=int, default=15, help="positions and elements (default 15)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one deviation run may take (default 60)")
    parser.add_argument("--skip-overhead", action="store_true",
                        help="no overhead measurement (quick runs)")
    parser.add_argument("--overhead-n", type=int, default=10_000,
                        help="inputs for the mean/median overhead (default 10,000)")
    parser.add_argument("--overhead-repeat", type=int, default=3,
                        help="runs per query and level (median; default 3)")
    parser.add_argument("--verify-overhead-batch", type=int, default=32,
                        help="providers per batch for the verification overhead (default 32)")
    parser.add_argument("--verify-overhead-repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the run files here")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def run_bench(args: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mpcstats-malicious-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        bench = Bench(workdir, n=args.n, seed=args.seed, verify_batch=args.verify_batch,
                      timeout=args.timeout)
        by_family: dict[str, Any] = {}
        notes: list[dict[str, Any]] = []
        for family in args.families:
            by_family[family], family_notes = run_family(bench, family, args.runs, args.kinds,
                                                         args.seed, progress)
            notes += family_notes
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    top = by_family.get("statistics", _empty())
    report: dict[str, Any] = {
        "runs": top["runs"], **{v: top[v] for v in VERDICTS},
        "not_applicable": top["not_applicable"],
        "by_kind": top.get("by_kind", {}),
        "by_family": by_family,
        "n": args.n, "verify_batch": args.verify_batch, "seed": args.seed,
        "query": QUERY, "dp_query": DP_QUERY, "security": "malicious",
        "undetected": notes[:40],
        "seconds": round(time.perf_counter() - started, 1),
    }
    if not args.skip_overhead:
        report["overhead"] = measure_overhead(args.overhead_n, args.overhead_repeat,
                                              args.verify_overhead_batch,
                                              args.verify_overhead_repeat, args.seed, progress)
    else:
        report["overhead"] = None
    return report


def run(args: argparse.Namespace) -> int:
    if args.runs < 0 or args.n < MIN_INPUTS or args.verify_batch < 1 or args.overhead_n < 1:
        print(f"error: --runs must be ≥ 0, --inputs ≥ {MIN_INPUTS} (the parties' minimum pool), "
              "--verify-batch and --overhead-n ≥ 1", file=sys.stderr)
        return 2
    say = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr))
    report = run_bench(args, say)
    print(json.dumps(report))
    stats_family = report["by_family"].get("statistics", _empty())
    dp_family = report["by_family"].get("dp", _empty())
    wrong = (stats_family["wrong_signed"] + stats_family["wrong_stored"] + dp_family["wrong_signed"]
             + dp_family["wrong_stored"] + dp_family["unjudged"])
    return 0 if wrong == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpcstats bench malicious", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
