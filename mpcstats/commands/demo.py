"""``mpcstats demo``: the whole system on loopback, end to end, checked against the truth.

It starts every server as its own process (exchange simulator, notary, three
computation parties, coordinator, results API — ``mpcstats up``), then N simulated
providers each run the real provider flow — notarize their account response through
the notary, register, secret-share the record key and their balance to the three
parties — and the parties verify every submission inside MPC. Then it asks the
coordinator for the statistics, waits until the results API serves the result all
three parties signed, and prints it next to the plaintext truth from the simulator.
The pool has two columns by default (each account's ETH and BTC balance, both proven
from the same notarized response; accounts without BTC contribute a missing value), so
it then also asks for the covariance, correlation and regression of BTC on ETH.
The exit status is 0 only if every statistic equals the truth (the fixed-point
two-column statistics: within 1e-6 relative).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import requests

from mpc_programs.statistics import plaintext
from mpc_programs.shares.encoding import to_units
from mpc_programs.statistics.query import parse_query
from mpcstats.local_deployment import (SOURCE, TWO_COLUMN_SOURCE, DeploymentError, pool_row,
                                       start_local_deployment)
from provider_app.client import DeploymentConfig, ProviderClient
from provider_app.errors import ContributionError
from tlsn import Credentials


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--providers", type=int, default=20, help="simulated providers")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated accounts")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep keys, stores and logs here (default: a temporary directory)")
    parser.add_argument("--concurrency", type=int, default=8, help="providers at a time")
    parser.add_argument("--source", choices=(TWO_COLUMN_SOURCE, SOURCE), default=TWO_COLUMN_SOURCE,
                        help="what the pool counts: ETH and BTC balances (default) or ETH only")
    parser.add_argument("--json", action="store_true",
                        help="make the last line one JSON object with stats and truth")


def _table(stats: dict[str, Any], truth: dict[str, Any]) -> list[str]:
    lines = [f"{'statistic':<18}{'MPC result':>26}{'plaintext truth':>26}  ok"]
    for key, want in truth.items():
        got: Any = stats.get(key)
        if isinstance(want, dict) and "counts" in want:
            edges = want["edges"]
            labels = [f"< {edges[0]}"] + [f"[{a}, {b})" for a, b in zip(edges, edges[1:])] + [
                f">= {edges[-1]}"]
            for label, g, w in zip(labels, got["counts"], want["counts"]):
                lines.append(_row("hist " + label, g, w))
        elif isinstance(want, dict):
            for q, w in want.items():
                lines.append(_row(f"quantile {q}", got[q], w))
        else:
            lines.append(_row(key, got, want))
    return lines


def _row(label: str, got: Any, want: Any) -> str:
    def short(v: Any) -> str:
        text = str(v)
        return text if len(text) <= 24 else text[:23] + "…"
    return f"{label:<18}{short(got):>26}{short(want):>26}  {'✓' if got == want else '✗'}"


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.providers <= 10_000:
        print("error: --providers must be between 1 and 10000", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.2f} s] {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="mpcstats-demo-") as tmp:
        root = args.workdir or Path(tmp)
        step("starting a local deployment (every server its own process)")
        try:
            deployment = start_local_deployment(root, accounts=args.providers, seed=args.seed,
                                                source=args.source,
                                                say=lambda text: step("  " + text))
        except DeploymentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        try:
            return _run_demo(args, deployment, step, started)
        finally:
            deployment.stop()


def _run_demo(args: argparse.Namespace, deployment: Any, step: Any, started: float) -> int:
    config = DeploymentConfig.from_dict(deployment.provider_config())
    accounts = deployment.accounts
    step(f"the parties run every MPC program with security = {deployment.security!r}"
         + (" (active security with abort: products verified, openings checked)"
            if deployment.security == "malicious" else ""))
    step(f"{len(accounts)} providers notarize, register and share (≤{args.concurrency} at a time)")
    done = {"accepted": 0, "failed": 0}

    def provide(account: Any) -> str:
        client = ProviderClient(config)
        try:
            outcome = client.contribute(Credentials(account.api_key, account.secret))
            return outcome.status
        except ContributionError as exc:
            return f"{exc.code}: {exc.detail}"

    with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
        for status in pool.map(provide, accounts):
            done["accepted" if status == "accepted" else "failed"] += 1
            if status != "accepted":
                step(f"  a provider failed: {status}")
            total = done["accepted"] + done["failed"]
            if total % max(1, len(accounts) // 10) == 0 or total == len(accounts):
                step(f"  {done['accepted']} accepted, {done['failed']} failed of {len(accounts)}")
    query = parse_query(None)
    step("the coordinator asks the 3 parties for the statistics (MPC over the stored shares)")
    response = requests.post(deployment.coordinator_url + "/v1/queries",
                             json={"query": query.to_json()}, timeout=600)
    if response.status_code != 200:
        print(f"error: query failed: {response.text}", file=sys.stderr)
        return 1
    result = response.json()
    step(f"all 3 parties signed the same result over {result['n']} inputs; waiting for the "
         "results API to serve it")
    served = _wait_served(deployment.results_url, result["run_id"])
    stats = served["statistics"] if served else result["statistics"]
    truth = plaintext.statistics(query, [to_units(a.eth) for a in accounts])
    print()
    print("\n".join(_table(stats, truth)))
    print()
    ok = stats == truth and done["accepted"] == len(accounts) and served is not None
    if args.source == TWO_COLUMN_SOURCE:
        ok = _two_columns(deployment, accounts, step) and ok
    seconds = time.perf_counter() - started
    print(f"{'OK' if ok else 'MISMATCH'}: the published statistics "
          f"{'equal' if stats == truth else 'differ from'} the plaintext truth; "
          f"{done['accepted']}/{len(accounts)} providers counted; "
          f"results API {'serves' if served else 'did not serve'} the signed result; "
          f"{seconds:.1f} s in all")
    if args.json:
        print(json.dumps({"providers": len(accounts), "accepted": done["accepted"],
                          "security": deployment.security,
                          "seconds": round(seconds, 3), "stats": stats, "truth": truth}))
    return 0 if ok else 1


TWO_COLUMN_QUERY = {"statistics": ["count", "covariance", "correlation", "linear_regression"],
                    "columns": ["balance", "btc"]}


def _two_columns(deployment: Any, accounts: list[Any], step: Any) -> bool:
    """Ask for the two-column statistics and print them next to the exact ones."""
    query = parse_query(TWO_COLUMN_QUERY)
    step("the coordinator asks for covariance, correlation and regression of BTC on ETH "
         "(inputs with a BTC value)")
    response = requests.post(deployment.coordinator_url + "/v1/queries",
                             json={"query": query.to_json()}, timeout=600)
    if response.status_code != 200:
        print(f"error: query failed: {response.text}", file=sys.stderr)
        return False
    got = response.json()["statistics"]
    table = [pool_row(a) for a in accounts]
    truth = plaintext.table_statistics(query, table)
    flat_got, flat_truth = _flatten(got), _flatten(truth)
    print()
    ok = True
    for key, want in flat_truth.items():
        good = _close(flat_got.get(key), want)
        ok = ok and good
        print(f"{key:<26}{str(flat_got.get(key))[:23]:>24}{str(want)[:23]:>24}  {'✓' if good else '✗'}")
    print()
    return ok


def _flatten(stats: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _close(got: Any, want: Any) -> bool:
    """Equal, or both decimal strings within 1e-6 relative (fixed point inside MPC)."""
    if got == want:
        return True
    if not isinstance(got, str) or not isinstance(want, str):
        return False
    g, w = Fraction(Decimal(got)), Fraction(Decimal(want))
    return abs(g - w) <= abs(w) * Fraction(1, 10**6) + Fraction(1, 10**12)


def _wait_served(results_url: str, run_id: str, timeout: float = 30.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.get(results_url + "/stats", timeout=5)
            if response.status_code == 200:
                body = response.json()
                if body.get("run_id") == run_id or body.get("result", {}).get("run_id") == run_id:
                    return body.get("result", body)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return None
