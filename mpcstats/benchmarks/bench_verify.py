"""``mpcstats bench verify``: input verification (AES-GCM inside MPC) for a batch of providers.

Starts 3 local party processes running :mod:`mpcstats.benchmarks.verify_demo` on synthetic records and
prints one JSON line: median seconds per batch, per provider, and bytes sent per party per batch
(mean over the parties, counted on MPyC's connections), the response size and how many records
each provider's response spans (every one tag-checked); with full-size responses each provider's
request is bound too (client-write key: request record tag and known plaintext). The keys are
dealt as providers deal them (``--keys bits``: prime-field bits, turned into GF(2^8) shares inside
MPC and timed with the batch); ``--keys gf256`` deals GF(2^8) shares directly, for comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics

from mpc_programs.runtime.local_parties import run_parties
from mpcstats.benchmarks.bench_mpc import add_security_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=32, help="providers per batch")
    parser.add_argument("--repeat", type=int, default=5, help="batches to time (median)")
    parser.add_argument("--key-bits", type=int, choices=(128, 256), default=128)
    parser.add_argument("--columns", type=int, choices=(1, 2), default=1,
                        help="value fields verified per provider (2: ETH and BTC balance)")
    parser.add_argument("--response-bytes", type=int, default=40_000,
                        help="size of each provider's response (the real account endpoint answers tens of KB "
                             "over several TLS records, all tag-checked); 0: one small record")
    parser.add_argument("--keys", choices=("bits", "gf256"), default="bits",
                        help="how the record keys are dealt (default bits: as providers upload them)")
    add_security_argument(parser)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--timeout", type=float, default=300.0)


def run(args: argparse.Namespace) -> int:
    results = run_parties(["-m", "mpcstats.benchmarks.verify_demo", "--json", "--batch", str(args.batch),
                           "--repeat", str(args.repeat), "--key-bits", str(args.key_bits),
                           "--columns", str(args.columns), "--response-bytes", str(args.response_bytes),
                           "--security", args.security, "--keys", args.keys],
                          timeout=args.timeout)
    reports = []
    for r in results:
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        if r.returncode != 0 or not lines:
            print(json.dumps({"error": f"party {r.pid} failed ({r.returncode})",
                              "stderr": r.stderr[-2000:]}))
            return 1
        reports.append(json.loads(lines[-1]))
    seconds = statistics.median(rep["seconds"] for rep in reports)
    out = {"batch": args.batch, "security": args.security, "seconds": round(seconds, 4),
           "seconds_per_provider": round(seconds / args.batch, 5),
           "bytes_per_party": int(statistics.mean(rep["bytes_per_party"] for rep in reports)),
           "key_bits": args.key_bits, "keys": args.keys, "repeat": args.repeat,
           "columns": args.columns,
           "accepted": reports[0]["accepted"], "response_bytes": reports[0]["response_bytes"],
           "records": reports[0]["records"], "request_bound": reports[0]["request_bound"]}
    if not args.json:
        print(f"verify: batch {args.batch}, AES-{args.key_bits}, {out['response_bytes']}-byte responses "
              f"({out['records']} records): {seconds:.3f} s per batch, "
              f"{seconds / args.batch:.4f} s per provider, {out['bytes_per_party']} bytes per party")
    print(json.dumps(out))
    return 0
