"""``mpcstats demo``: simulated providers pool their balances; three local MPC parties
compute the statistics; the result is printed next to the plaintext truth.

What runs: N providers each split their (simulated) ETH balance into Shamir shares
on their own; three computation parties — separate MPyC processes on loopback —
check every provider's encoding inside MPC and store their shares; then the
statistics program runs over the stored shares and opens only the statistics.
The demo exits non-zero unless every statistic equals the plaintext truth.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mpc_programs import local_pool, plaintext
from mpc_programs.encoding import from_units
from mpc_programs.query import parse_query


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--providers", type=int, default=20, help="simulated providers")
    parser.add_argument("--seed", type=int, default=None, help="seed for the simulated balances")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the parties' stores and logs here (default: temporary)")
    parser.add_argument("--json", action="store_true",
                        help="make the last line one JSON object with stats and truth")


def simulated_balances(n: int, seed: int | None) -> dict[str, int]:
    """ETH balances (1e-8 units) shaped like real ones: many small, a few whales."""
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        eth = rng.lognormvariate(0.0, 2.0)  # median 1 ETH, long tail
        out[f"demo-uid-{100000 + i}"] = min(int(eth * 10**8), 10**17)
    return out


def _table(stats: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    lines = [f"{'statistic':<16}{'MPC result':>28}{'plaintext truth':>28}  ok"]
    for key, want in truth.items():
        got = stats.get(key)
        if isinstance(want, dict) and "counts" in want:
            labels = ["<" + want["edges"][0]] + [
                f"[{a},{b})" for a, b in zip(want["edges"], want["edges"][1:])] + [
                ">=" + want["edges"][-1]]
            for label, g, w in zip(labels, got["counts"], want["counts"]):
                lines.append(f"{'hist ' + label:<16}{g:>28}{w:>28}  {'✓' if g == w else '✗'}")
        elif isinstance(want, dict):
            for q, w in want.items():
                g = got[q]
                lines.append(f"{'q' + q:<16}{_short(g):>28}{_short(w):>28}  {'✓' if g == w else '✗'}")
        else:
            mark = "✓" if got == want else "✗"
            lines.append(f"{key:<16}{_short(got):>28}{_short(want):>28}  {mark}")
    return lines


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 26 else text[:25] + "…"


def run(args: argparse.Namespace) -> int:
    if args.providers < 1:
        print("error: --providers must be at least 1", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.2f} s] {message}", flush=True)

    balances = simulated_balances(args.providers, args.seed)
    query = parse_query(None)
    with tempfile.TemporaryDirectory(prefix="mpcstats-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        stores = local_pool.store_paths(workdir)
        step(f"{args.providers} simulated providers split their balances into shares")
        pending = local_pool.share_pool(balances)
        step("3 computation parties check every provider's shares inside MPC")
        outcome = local_pool.ingest(stores, pending, workdir)
        step(f"accepted {len(outcome['accepted'])}, rejected {len(outcome['rejected'])}")
        step("3 computation parties compute the statistics inside MPC")
        outcomes = local_pool.statistics(stores, query, workdir)
    stats = outcomes[0]["statistics"]
    truth = plaintext.statistics(query, list(balances.values()))
    seconds = time.perf_counter() - started
    step(f"done; every party opened the same result (over {outcomes[0]['n']} inputs)")
    print()
    print("\n".join(_table(stats, truth)))
    print()
    ok = stats == truth and len(outcome["accepted"]) == args.providers
    print(f"{'OK' if ok else 'MISMATCH'}: MPC result {'equals' if ok else 'differs from'} "
          f"the plaintext truth; total {seconds:.1f} s; largest balance "
          f"{from_units(max(balances.values()))} ETH stayed private")
    if args.json:
        print(json.dumps({"providers": args.providers, "accepted": len(outcome["accepted"]),
                          "seconds": round(seconds, 3), "stats": stats, "truth": truth}))
    return 0 if ok else 1
