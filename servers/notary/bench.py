"""Benchmark notarization through the relay on loopback, TLS 1.2 and TLS 1.3.

Starts the exchange simulator and a notary in this process, notarizes ``--runs`` times per TLS
version (open session, relayed TLS request, attestation, signature check) and prints one JSON line:
``{"tls12": {"seconds": median, "bytes": n}, "tls13": {...}}`` — bytes relayed over the WebSocket.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from cryptography import x509

from provider_app.notary_client import NotaryClient
from servers.exchange_sim.accounts import generate_accounts
from servers.exchange_sim.server import start_exchange_sim
from servers.notary.app import start_notary
from servers.notary.config import HostTarget, NotaryConfig
from tlsn import TLS12, Credentials, client_context, load_spec

HOST = "api.binance.test"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=15, help="notarizations per TLS version")
    parser.add_argument("--json", action="store_true", help="accepted for symmetry; output is always JSON")


def measure(runs: int) -> dict[str, dict[str, float | int]]:
    accounts = generate_accounts(1, seed=7)
    account = accounts[0]
    spec = load_spec("binance_eth")
    out: dict[str, dict[str, float | int]] = {}
    with start_exchange_sim(accounts) as sim:
        roots = [x509.load_pem_x509_certificate(sim.ca_pem.encode())]
        config = NotaryConfig(hosts={HOST: HostTarget(sim.host, sim.port)}, trust_roots=roots,
                              rate_limit=10 * runs + 10)
        with start_notary(config) as notary:
            client = NotaryClient(notary.url)
            for label, version in (("tls12", TLS12), ("tls13", None)):
                times, sizes = [], []
                for _ in range(runs):
                    ctx = client_context(cadata=sim.ca_pem, max_version=version)
                    start = time.perf_counter()
                    result = client.notarize(spec, Credentials(account.api_key, account.secret), host=HOST,
                                             context=ctx)
                    times.append(time.perf_counter() - start)
                    sizes.append(result.bytes_relayed)
                out[label] = {"seconds": round(statistics.median(times), 4), "bytes": int(statistics.median(sizes))}
    return out


def run(args: argparse.Namespace) -> int:
    print(json.dumps(measure(args.runs)))
    return 0
