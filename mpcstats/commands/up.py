"""``mpcstats up``: a whole deployment on loopback that keeps serving until Ctrl-C.

Starts the exchange simulator, the notary, three computation parties (MPC over TLS
with a freshly generated private CA), the coordinator and the results API, each as
its own process, and writes ``deployment.json`` (what the provider app and the
consumer CLI need) into the data directory.

It runs the production privacy policy (``servers/party/policy.py``): exact figures only for
the operator's release (the standard statistics without min and max), recomputed as providers
join; everything else only with differential privacy, under each party's budget and with the
deployment's API key (the file ``api_key`` in the data directory). ``--dev-exact-queries`` lets the
parties answer any exact query, for development only.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from mpcstats.local_deployment import (SOURCE, TWO_COLUMN_SOURCE, DeploymentError,
                                       start_local_deployment)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=Path("var/local-deployment"),
                        help="data directory (keys, configs, stores, logs)")
    parser.add_argument("--accounts", type=int, default=20, help="simulated exchange accounts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--auto-query-seconds", type=float, default=5.0,
                        help="recompute the statistics after new inputs, at most this often")
    parser.add_argument("--min-inputs", type=int, default=10,
                        help="the minimum pool size: no statistic over fewer providers (default 10, "
                             "as in production; the demo's own runs may use fewer)")
    parser.add_argument("--dev-exact-queries", action="store_true",
                        help="DEVELOPMENT ONLY: the parties answer any exact query (no privacy "
                             "policy); never for a pool of real people")
    parser.add_argument("--source", choices=(SOURCE, TWO_COLUMN_SOURCE), default=SOURCE,
                        help="what the pool counts: the ETH balance (default) or ETH and BTC balances")


def run(args: argparse.Namespace) -> int:
    try:
        deployment = start_local_deployment(
            args.dir, accounts=args.accounts, seed=args.seed,
            auto_query_seconds=args.auto_query_seconds, min_inputs=args.min_inputs,
            source=args.source, say=lambda text: print(f"  {text}", flush=True),
            party_options={"exact_queries": "any" if args.dev_exact_queries else "release"})
    except DeploymentError as exc:
        print(f"error: {exc}")
        return 1
    print(json.dumps({"deployment": str(deployment.root / "deployment.json"),
                      "coordinator": deployment.coordinator_url,
                      "results": deployment.results_url + "/stats",
                      "notary": deployment.notary_url,
                      "exchange_accounts": str(deployment.root / "exchange_accounts.json"),
                      "api_key_file": str(deployment.root / "api_key")}),
          flush=True)
    print("serving; press Ctrl-C to stop", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            dead = [s.name for s in deployment.servers.values() if not s.alive()]
            if dead:
                print(f"error: {', '.join(dead)} stopped; see {deployment.root / 'logs'}")
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()
    return 0
