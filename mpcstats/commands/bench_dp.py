"""``mpcstats bench dp``: accuracy and cost of the differentially private median and mean.

N random balances (``mpcstats.benchmarks.bench_mpc``'s spread over many magnitudes) are shared and
ingested by 3 local parties; then, ``--runs`` times each, the exact median and mean and
their DP counterparts at ε (``--epsilon``, per statistic) with the public clipping bound
``--clip`` run in fresh party processes. It prints one JSON object::

    {"n": 10000, "epsilon": 1.0, "clip": "1000", "median_rank_error": r, "mean_rel_error": e,
     "seconds": {"median": ..., "dp_median": ..., "mean": ..., "dp_mean": ...}, ...}

* ``median_rank_error``: the largest over the runs of |rank of the DP median − ⌊(N−1)/2⌋| / N
  (the rank of a value v is #{x < v}); goal ≤ 0.01.
* ``mean_rel_error``: the largest over the runs of |DP mean − mean of the clipped values| /
  clip (relative to the clipping range [0, clip]); goal ≤ 0.001.
* ``correlation_abs_error``: the largest over the runs of |DP correlation − correlation of the
  clipped values| for a second column y = x/10 + U[0, 1) ETH clipped at clip/10 + 1
  (``epsilon.bivariate`` = ε; noisy clipped sufficient statistics, ``dp_stats``); no goal.
* ``seconds``: median MPC seconds (inside the parties) per statistic; goal: each DP figure
  ≤ 2× its exact counterpart. Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from fractions import Fraction

from mpcstats.benchmarks import local_pool
from mpcstats.benchmarks.bench_mpc import _random_balances
from mpc_programs.shares.encoding import to_units
from mpc_programs.statistics.query import parse_query


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=10_000, help="number of inputs")
    parser.add_argument("--epsilon", type=float, default=1.0, help="ε per DP statistic")
    parser.add_argument("--clip", default="1000", help="public clipping bound (ETH)")
    parser.add_argument("--runs", type=int, default=3, help="runs per statistic")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def run(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    eps = str(Decimal(str(args.epsilon)))
    queries = {
        "median": ({"statistics": ["median"]}, "order_statistics"),
        "dp_median": ({"statistics": ["median"],
                       "privacy": {"epsilon": {"quantiles": eps}, "clip": args.clip}},
                      "dp_order_statistics"),
        "mean": ({"statistics": ["mean"]}, "sum"),
        "dp_mean": ({"statistics": ["mean"], "privacy": {"epsilon": {"sum": eps}, "clip": args.clip}},
                    "dp_sum"),
        "correlation": ({"statistics": ["correlation"], "columns": ["balance", "y"]}, "bivariate"),
        "dp_correlation": ({"statistics": ["correlation"], "columns": ["balance", "y"],
                            "privacy": {"epsilon": {"bivariate": eps}, "clip": args.clip,
                                        "clip_columns": {"y": str(Decimal(args.clip) / 10 + 1)}}},
                           "dp_bivariate"),
    }
    units = _random_balances(args.n, args.seed)
    rng = random.Random(args.seed)
    second = {i: v // 10 + rng.randrange(10**8) for i, v in units.items()}
    values = sorted(units.values())
    clip = to_units(args.clip)
    clipped_mean = Fraction(sum(min(v, clip) for v in values), args.n)
    clip_y = to_units(str(Decimal(args.clip) / 10 + 1))
    clipped_r = statistics.correlation([float(min(units[i], clip)) for i in units],
                                       [float(min(second[i], clip_y)) for i in units])
    r_errors: list[float] = []
    target = (args.n - 1) // 2
    seconds: dict[str, float] = {}
    rank_errors: list[float] = []
    mean_errors: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mpcstats-bench-dp-") as workdir:
        stores = local_pool.store_paths(workdir)
        t = time.perf_counter()
        outcome = local_pool.ingest(stores, local_pool.share_pool(units), workdir, timeout=1800,
                                    pending_columns=local_pool.share_columns(
                                        {i: {"y": v} for i, v in second.items()}))
        assert len(outcome["accepted"]) == args.n, outcome["rejected"]
        say(f"shared and ingested {args.n} inputs in {time.perf_counter() - t:.1f} s")
        for name, (spec, key) in queries.items():
            query = parse_query(spec)
            timings = []
            for _ in range(args.runs):
                outcomes = local_pool.statistics(stores, query, workdir, timeout=1800,
                                                 columns=["balance", "y"])
                timings.append(max(o["seconds"].get(key, 0.0) for o in outcomes))
                stats = outcomes[0]["statistics"]
                if name == "dp_median":
                    rank = bisect.bisect_left(values, to_units(stats["median"]))
                    rank_errors.append(abs(rank - target) / args.n)
                elif name == "dp_mean":
                    got = Fraction(Decimal(stats["mean"])) * 10**8
                    mean_errors.append(float(abs(got - clipped_mean) / clip))
                elif name == "dp_correlation":
                    got_r = stats["correlation"]
                    r_errors.append(2.0 if got_r is None else abs(float(got_r) - clipped_r))
            seconds[name] = round(statistics.median(timings), 4)
            say(f"{name:10s} {seconds[name]:8.3f} s in MPC")
    report = {"n": args.n, "epsilon": args.epsilon, "clip": args.clip,
              "median_rank_error": max(rank_errors), "mean_rel_error": max(mean_errors),
              "correlation_abs_error": max(r_errors),
              "seconds": seconds, "runs": args.runs,
              "method": {"median": "noisy counts at each digit of the radix search (dp_order)",
                         "mean": "clipped sum + joint discrete Laplace noise / public n (dp_stats)",
                         "correlation": "noisy clipped sufficient statistics (dp_stats)"}}
    print(json.dumps(report))
    ok = (report["median_rank_error"] <= 0.01 and report["mean_rel_error"] <= 0.001
          and seconds["dp_median"] <= 2 * seconds["median"] and seconds["dp_mean"] <= 2 * seconds["mean"])
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpcstats bench dp", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
