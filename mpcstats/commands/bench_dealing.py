"""``mpcstats bench dealing``: the verifiable dealing's cost, for a provider and for a party.

Provider: one contribution's dealing (``shares.dealing.deal_rows``: the balance's layout and two
AES-128 keys' bits, committed and signed), median over ``--repeat``. Party: checking its own shares
of N providers against their commitments (``dealing.own_shares_hold``: one batched test per row
name), median over ``--repeat``, and the same with one faulty provider among them (the bisection
that finds it). Prints one JSON line; ``per_million_s`` extrapolates the party's check linearly.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time

from mpc_programs.shares import dealing
from mpc_programs.shares.encoding import one_hot
from mpc_programs.shares.field import PRIME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=1000, help="providers a party checks at once")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def _rows() -> dict[str, list[int]]:
    return {dealing.LAYOUT: one_hot(secrets.randbelow(10**17)),
            dealing.KEY: dealing.key_bits(secrets.token_bytes(16)),
            dealing.CLIENT_KEY: dealing.key_bits(secrets.token_bytes(16))}


def _median_seconds(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(args: argparse.Namespace) -> int:
    if args.n < 2 or args.repeat < 1:
        raise SystemExit("mpcstats bench dealing: --n ≥ 2 and --repeat ≥ 1")
    provider_s = _median_seconds(lambda: dealing.deal_rows(_rows()), args.repeat)
    dealt = [dealing.deal_rows(_rows()) for _ in range(args.n)]
    point = 2
    publics = [d.public for d in dealt]
    rows = [d.rows[point - 1] for d in dealt]
    parts = [d.parts[point - 1] for d in dealt]
    check_s = _median_seconds(lambda: dealing.own_shares_hold(point, publics, rows, parts),
                              args.repeat)
    bad = [dict(r) for r in rows]
    bad[args.n // 2] = {**bad[args.n // 2],
                        dealing.LAYOUT: [(v + 1) % PRIME for v in bad[args.n // 2][dealing.LAYOUT]]}
    found: list[bool] = []
    faulty_s = _median_seconds(lambda: found.__setitem__(slice(None), dealing.own_shares_hold(
        point, publics, bad, parts)), args.repeat)
    if found.count(False) != 1 or found[args.n // 2]:
        print(json.dumps({"error": "the faulty provider was not found"}))
        return 1
    out = {"providers": args.n, "repeat": args.repeat,
           "provider_deal_s": round(provider_s, 4),
           "party_check_s": round(check_s, 3),
           "party_check_per_provider_ms": round(1000 * check_s / args.n, 3),
           "party_check_one_faulty_s": round(faulty_s, 3),
           "per_million_s": round(check_s / args.n * 1_000_000)}
    if not args.json:
        print(f"dealing: provider {provider_s:.3f} s; a party checks {args.n} providers in "
              f"{check_s:.2f} s ({out['party_check_per_provider_ms']} ms each), "
              f"{faulty_s:.2f} s with one faulty")
    print(json.dumps(out))
    return 0
