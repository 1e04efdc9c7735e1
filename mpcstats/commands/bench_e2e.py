"""``mpcstats bench e2e --providers N``: the deployed system under N providers.

Starts a local deployment (every server its own process), lets N simulated providers
contribute with ``--concurrency`` at a time through the real flow, and reports: the
median seconds from registration to "accepted" per provider (verification is
batched, so this includes waiting for the batch), the wall seconds per accepted
provider (throughput), the median notarization time, and the median latency of a
statistics query over all stored inputs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from mpcstats.local_deployment import start_local_deployment
from provider_app.client import DeploymentConfig, ProviderClient
from tlsn import Credentials


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--providers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--queries", type=int, default=3, help="query runs (median)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")


def run(args: argparse.Namespace) -> int:
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="mpcstats-bench-e2e-") as tmp:
        deployment = start_local_deployment(Path(tmp), accounts=args.providers, client_rate=1000.0)
        try:
            config = DeploymentConfig.from_dict(deployment.provider_config())

            def provide(account: Any) -> tuple[float, float, str]:
                client = ProviderClient(config)
                t0 = time.perf_counter()
                notarized = client.notarize(Credentials(account.api_key, account.secret))
                t1 = time.perf_counter()
                registration = client.register(notarized)
                client.share(notarized, registration)
                final = client.wait(registration, timeout=900, interval=0.05)
                return t1 - t0, time.perf_counter() - t1, final["status"]

            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                outcomes = list(pool.map(provide, deployment.accounts))
            wall = time.perf_counter() - started
            accepted = sum(1 for o in outcomes if o[2] == "accepted")
            say(f"{accepted}/{args.providers} accepted in {wall:.1f} s")
            query_times = []
            for i in range(args.queries):
                # a different quantile level each time: the coordinator answers a repeated
                # query from its cache, and this measures the MPC
                spec = {"quantiles": ["0.25", "0.75", f"0.9{i}"]}
                t = time.perf_counter()
                response = requests.post(deployment.coordinator_url + "/v1/queries",
                                         json={"query": spec}, timeout=900)
                response.raise_for_status()
                query_times.append(time.perf_counter() - t)
            say(f"query over {accepted} inputs: {statistics.median(query_times):.2f} s")
        finally:
            deployment.stop()
    report = {
        "providers": args.providers,
        "accepted": accepted,
        "accept_seconds_per_provider": round(statistics.median(o[1] for o in outcomes), 3),
        "wall_seconds_per_provider": round(wall / max(1, accepted), 3),
        "notarize_seconds": round(statistics.median(o[0] for o in outcomes), 3),
        "query_seconds": round(statistics.median(query_times), 3),
        "concurrency": args.concurrency,
    }
    print(json.dumps(report))
    return 0 if accepted == args.providers else 1
