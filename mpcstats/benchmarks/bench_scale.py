"""``mpcstats bench scale``: the pool at 10,000 and 100,000 inputs (1,000,000 with ``--full``).

Per pool size it shares the inputs client-side, ingests them in chunks (each chunk one
real ingestion run: the parties check every layout and append it to their stores), then
runs each statistic ``--runs`` times in three fresh party processes over the stored
shares, and checks every result against the plaintext truth. It prints one JSON line:
``{"runs": [{"n", "seconds", "wall_seconds", "ingest_seconds", "share_seconds",
"peak_rss_mib", "store_bytes_per_input", ...}, ...]}`` with the field names of
``bench mpc``; times are medians. ``seconds`` is the MPC time measured inside the
parties, ``wall_seconds`` the whole run (process start, MPyC set-up, load, MPC).

Gini sorts inside MPC and is limited to ``results.GINI_MAX_INPUTS`` inputs: at larger N it
runs over the first ``--gini-n`` inputs and ``gini_n`` says so.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics as stats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mpc_programs.statistics import plaintext, results
from mpc_programs.statistics.query import parse_query
from mpcstats.benchmarks import local_pool
from mpcstats.benchmarks.pool_sharing import share_layouts_bytes
from mpcstats.benchmarks.bench_mpc import _random_balances, _relative_error, add_security_argument

SIZES = [10_000, 100_000]
FULL_SIZES = SIZES + [1_000_000]
#: statistic -> (query, timing keys inside the party whose sum is its MPC time)
QUERIES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "mean": ({"statistics": ["mean"]}, ("sum",)),
    "median": ({"statistics": ["median"]}, ("order_statistics",)),
    "min": ({"statistics": ["min"]}, ("order_statistics",)),
    "max": ({"statistics": ["max"]}, ("order_statistics",)),
    "gini": ({"statistics": ["gini"]}, ("gini",)),
    # every one-column statistic of the default query, in one run
    "all": ({}, ("sum", "moments", "order_statistics", "histogram")),
}
DEFAULT_ONLY = ["mean", "median", "min", "max", "gini", "all"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, nargs="+", help="pool sizes (default: 10,000 and 100,000)")
    parser.add_argument("--full", action="store_true", help="also 1,000,000 inputs")
    parser.add_argument("--runs", type=int, default=3, help="runs per statistic (median)")
    parser.add_argument("--only", nargs="+", choices=sorted(QUERIES), default=DEFAULT_ONLY)
    parser.add_argument("--chunk", type=int, default=10_000,
                        help="inputs per ingestion run (each is one MPC run)")
    parser.add_argument("--gini-n", type=int, default=results.GINI_MAX_INPUTS,
                        help="gini over at most this many inputs (it sorts inside MPC)")
    parser.add_argument("--seed", type=int, default=2026)
    add_security_argument(parser)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def _share_chunk(units: dict[str, int]) -> list[dict[str, str]]:
    """What each party receives from these providers: {id: encoded row} (the upload
    format, ``store.encode_row``)."""
    ids = list(units)
    per_party = share_layouts_bytes([units[i] for i in ids])
    return [{i: base64.b64encode(row.tobytes()).decode("ascii") for i, row in zip(ids, rows)}
            for rows in per_party]


def _store_bytes(store: Path) -> int:
    """Bytes on disk of one party's store: its metadata file and its segment files, if any."""
    total = store.stat().st_size if store.exists() else 0
    for path in store.parent.glob(store.name + "*"):
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return total


def measure(n: int, args: argparse.Namespace, say) -> dict[str, Any]:
    security = getattr(args, "security", local_pool.DEFAULT_SECURITY)
    units = _random_balances(n, args.seed)
    ordered = sorted(units)
    share_seconds = ingest_seconds = 0.0
    peak = 0.0
    with tempfile.TemporaryDirectory(prefix="mpcstats-scale-") as workdir:
        stores = local_pool.store_paths(workdir)
        for start in range(0, n, args.chunk):
            chunk = {i: units[i] for i in ordered[start:start + args.chunk]}
            t = time.perf_counter()
            pending = _share_chunk(chunk)
            share_seconds += time.perf_counter() - t
            t = time.perf_counter()
            outcome = local_pool.ingest(stores, pending, workdir, timeout=3600,
                                        security=security)
            ingest_seconds += time.perf_counter() - t
            del pending
            if len(outcome["accepted"]) != len(chunk):
                raise RuntimeError(f"ingestion rejected inputs: {outcome['rejected']}")
            peak = max(peak, outcome.get("peak_rss_mib", 0.0))
            say(f"n={n}: ingested {start + len(chunk)}: party 0's seconds "
                f"{ {k: round(v, 2) for k, v in outcome.get('seconds', {}).items()} }")
        say(f"n={n}: shared in {share_seconds:.1f} s, ingested in {ingest_seconds:.1f} s")
        store_bytes = _store_bytes(stores[0])
        seconds: dict[str, float] = {}
        wall: dict[str, float] = {}
        max_error = 0.0
        gini_n = None
        for name in args.only:
            spec, keys = QUERIES[name]
            query = parse_query(spec)
            ids = None
            if "gini" in query.statistics and n > args.gini_n:
                ids = ordered[:args.gini_n]
                gini_n = len(ids)
            truth = plaintext.table_statistics(
                query, [{"balance": units[i]} for i in (ids or ordered)])
            timings, walls = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                outcomes = local_pool.statistics(stores, query, workdir, input_ids=ids,
                                                 timeout=3600,
                                                 gini_max_inputs=max(args.gini_n,
                                                                     results.GINI_MAX_INPUTS),
                                                 security=security)
                walls.append(time.perf_counter() - t)
                timings.append(max(sum(o["seconds"].get(k, 0.0) for k in keys)
                                   for o in outcomes))
                peak = max(peak, *(o["peak_rss_mib"] for o in outcomes))
                max_error = max(max_error, _relative_error(outcomes[0]["statistics"], truth))
            seconds[name] = round(stats.median(timings), 3)
            wall[name] = round(stats.median(walls), 3)
            say(f"n={n}: {name:7s} {seconds[name]:8.3f} s in MPC, {wall[name]:8.3f} s wall")
    run: dict[str, Any] = {
        "n": n,
        "security": security,
        "seconds": seconds,
        "wall_seconds": wall,
        "ingest_seconds": round(ingest_seconds, 2),
        "share_seconds": round(share_seconds, 2),
        "peak_rss_mib": round(peak, 1),
        "store_bytes_per_input": round(store_bytes / n, 1),
        "max_rel_error": max_error,
        "runs": args.runs,
    }
    if gini_n is not None:
        run["gini_n"] = gini_n
    return run


def run(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    sizes = args.n or (FULL_SIZES if args.full else SIZES)
    if any(n < 1 for n in sizes) or args.chunk < 1 or args.runs < 1:
        print("error: --n, --chunk and --runs must be positive", file=sys.stderr)
        return 2
    report = {"runs": [measure(n, args, say) for n in sizes]}
    print(json.dumps(report))
    return 0 if all(r["max_rel_error"] == 0.0 for r in report["runs"]) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpcstats bench scale", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
