"""``mpcstats bench mpc --n N``: statistics over N secret-shared inputs, 3 local parties.

It shares N random balances client-side, ingests them (the parties check every
encoding), then runs each statistic on its own, ``--runs`` times, each time in three
fresh party processes over the stored shares, and prints one JSON object:
per-statistic median seconds (the MPC part, measured inside the parties), the
median party start-up (process start to ready, including MPyC's connection set-up),
the largest relative error against the plaintext truth, and the peak memory of a
party process. Statistics limited to fewer inputs (``gini``: ``results.GINI_MAX_INPUTS``)
run over the first that many inputs; ``subset_n`` in the JSON says so.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from fractions import Fraction
from typing import Any

from mpcstats.benchmarks import local_pool
from mpc_programs.statistics import plaintext, results
from mpc_programs.statistics.query import parse_query

# statistic name -> (query, timing keys inside the party whose sum is its MPC time)
_EDGES = ["0.01", "0.1", "1", "10", "100"]
BENCHES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "count": ({"statistics": ["count"]}, ()),
    "sum": ({"statistics": ["sum"]}, ("sum",)),
    "mean": ({"statistics": ["mean"]}, ("sum",)),
    "variance": ({"statistics": ["variance"]}, ("moments",)),
    "stdev": ({"statistics": ["stdev"]}, ("moments",)),
    "pvariance": ({"statistics": ["pvariance"]}, ("moments",)),
    "pstdev": ({"statistics": ["pstdev"]}, ("moments",)),
    "min": ({"statistics": ["min"]}, ("order_statistics",)),
    "max": ({"statistics": ["max"]}, ("order_statistics",)),
    "median": ({"statistics": ["median"]}, ("order_statistics",)),
    "quantiles": ({"statistics": ["quantiles"], "quantiles": ["0.25", "0.75", "0.9"]},
                  ("order_statistics",)),
    "histogram": ({"statistics": ["histogram"], "histogram_edges": _EDGES}, ("histogram",)),
    "mode": ({"statistics": ["mode"], "histogram_edges": _EDGES}, ("mode",)),
    # the bench pool holds zeros (which settle both means at once): time the full path
    # over the positive inputs; the filter's own cost is in filtered_mean
    "geometric_mean": ({"statistics": ["geometric_mean"], "filter": [[">", "0"]]}, ("means",)),
    "harmonic_mean": ({"statistics": ["harmonic_mean"], "filter": [[">", "0"]]}, ("means",)),
    "gini": ({"statistics": ["gini"]}, ("gini",)),
    "filtered_mean": ({"statistics": ["mean"], "filter": [[">", "1"]]}, ("filter", "sum")),
    "filtered_median": ({"statistics": ["median"], "filter": [[">", "1"]]},
                        ("filter", "order_statistics")),
    "all": ({}, ("sum", "moments", "order_statistics", "histogram")),
    # a second column, "btc": missing for every 10th input (see _second_column)
    "column_mean": ({"statistics": ["mean"], "column": "btc"}, ("sum",)),
    "joined_mean": ({"statistics": ["mean"], "filter": [["btc", ">", "0.1"]]}, ("filter", "sum")),
    "covariance": ({"statistics": ["covariance"], "columns": ["balance", "btc"]}, ("bivariate",)),
    "correlation": ({"statistics": ["correlation"], "columns": ["balance", "btc"]},
                    ("bivariate",)),
    "linear_regression": ({"statistics": ["linear_regression"], "columns": ["balance", "btc"]},
                          ("bivariate",)),
}
COLUMNS = ["balance", "btc"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=10_000, help="number of inputs")
    parser.add_argument("--runs", type=int, default=3, help="runs per statistic (median)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES),
                        help="subset (default: all; gini sorts, minutes at N = 10,000)")
    parser.add_argument("--seed", type=int, default=2026)
    add_security_argument(parser)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def add_security_argument(parser: argparse.ArgumentParser) -> None:
    """``--security {semi-honest,malicious}`` (default malicious: active security with abort)."""
    parser.add_argument("--security", choices=("semi-honest", "malicious"), default="malicious",
                        help="the parties' security level (default: malicious, i.e. active "
                             "security with abort; semi-honest: MPyC's model, for comparison)")


def _random_balances(n: int, seed: int) -> dict[str, int]:
    """Balances spread over many magnitudes (0 to 10^9 ETH), with ties."""
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        magnitude = rng.randrange(0, 18)
        out[f"bench-{i:07d}"] = rng.randrange(10**magnitude) if magnitude else 0
    return out


def _second_column(units: dict[str, int], seed: int) -> dict[str, dict[str, int]]:
    """A btc value per input that grows with the balance (plus noise), missing for every 10th."""
    rng = random.Random(seed + 1)
    out = {}
    for k, (input_id, x) in enumerate(sorted(units.items())):
        if k % 10:
            out[input_id] = {"btc": x // 20 + rng.randrange(10**rng.randrange(1, 12))}
    return out


def _relative_error(got: Any, want: Any) -> float:
    if isinstance(want, dict):
        return max((_relative_error(got[k], want[k]) for k in want), default=0.0)
    if isinstance(want, list):
        return max((_relative_error(a, b) for a, b in zip(got, want)), default=0.0)
    if want is None or isinstance(want, int):
        return 0.0 if got == want else float("inf")
    g, w = Fraction(Decimal(got)), Fraction(Decimal(want))
    if w == 0:
        return 0.0 if g == 0 else float("inf")
    return float(abs(g - w) / abs(w))


def run(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    names = args.only or list(BENCHES)
    units = _random_balances(args.n, args.seed)
    with tempfile.TemporaryDirectory(prefix="mpcstats-bench-") as workdir:
        stores = local_pool.store_paths(workdir)
        t = time.perf_counter()
        pending = local_pool.share_pool(units)
        two_columns = any(parse_query(BENCHES[name][0]).used_columns() != ["balance"]
                          for name in names)
        extra = _second_column(units, args.seed) if two_columns else {}
        pending_columns = local_pool.share_columns(extra) if extra else None
        share_seconds = time.perf_counter() - t
        say(f"shared {args.n} inputs client-side in {share_seconds:.2f} s")
        t = time.perf_counter()
        outcome = local_pool.ingest(stores, pending, workdir, timeout=1800,
                                    pending_columns=pending_columns, security=args.security)
        ingest_seconds = time.perf_counter() - t
        assert len(outcome["accepted"]) == args.n, outcome["rejected"]
        say(f"ingested (checked + stored) in {ingest_seconds:.2f} s")
        seconds: dict[str, float] = {}
        startups: list[float] = []
        wall: dict[str, float] = {}
        peak = 0.0
        max_error = 0.0
        subset_n: dict[str, int] = {}
        for name in names:
            spec, keys = BENCHES[name]
            query = parse_query(spec)
            ids = None
            if "gini" in query.statistics and args.n > results.GINI_MAX_INPUTS:
                ids = sorted(units)[:results.GINI_MAX_INPUTS]  # gini's limit: a subset
                subset_n[name] = len(ids)
            table = [{"balance": units[i], **extra.get(i, {})} for i in (ids or sorted(units))]
            truth = plaintext.table_statistics(query, table)
            timings, walls = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                outcomes = local_pool.statistics(stores, query, workdir, input_ids=ids,
                                                 timeout=1800, columns=COLUMNS,
                                                 security=args.security)
                elapsed = time.perf_counter() - t
                mpc_time = max(sum(o["seconds"].get(k, 0.0) for k in keys) for o in outcomes)
                timings.append(mpc_time)
                walls.append(elapsed)
                startups.append(elapsed - max(sum(o["seconds"].values()) for o in outcomes))
                peak = max(peak, *(o["peak_rss_mib"] for o in outcomes))
                max_error = max(max_error, _relative_error(outcomes[0]["statistics"], truth))
            seconds[name] = round(statistics.median(timings), 4)
            wall[name] = round(statistics.median(walls), 3)
            say(f"{name:17s} {seconds[name]:8.3f} s in MPC, {wall[name]:6.2f} s wall")
    report = {
        "n": args.n,
        "security": args.security,
        "seconds": seconds,
        "wall_seconds": wall,
        "startup_seconds": round(statistics.median(startups), 3),
        "share_seconds": round(share_seconds, 3),
        "ingest_seconds": round(ingest_seconds, 3),
        "max_rel_error": max_error,
        "peak_rss_mib": round(peak, 1),
        "runs": args.runs,
        "subset_n": subset_n,
    }
    print(json.dumps(report))
    return 0 if max_error <= 1e-6 else 1
