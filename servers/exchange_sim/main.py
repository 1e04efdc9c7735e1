"""Run the exchange simulator: HTTPS on loopback with its own test CA, answering like Binance's
``GET /api/v3/account`` for deterministic simulated accounts.

Writes the CA certificate (``--ca-out``) for clients and the notary to trust, and the accounts with
their API keys (``--accounts-out``) for the demo's providers. Prints one JSON line with the address.
"""

from __future__ import annotations

import argparse
import json
import threading

from servers.exchange_sim.accounts import generate_accounts, load_accounts, save_accounts
from servers.exchange_sim.server import start_exchange_sim


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 = a free port")
    parser.add_argument("--accounts", type=int, default=10, help="number of simulated accounts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accounts-file", help="load accounts from this JSON instead of generating")
    parser.add_argument("--accounts-out", default="exchange_accounts.json")
    parser.add_argument("--ca-out", default="exchange_ca.pem")
    parser.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3")
    parser.add_argument("--tls13-suite", action="append", dest="tls13_suites",
                        help="pin TLS 1.3 suites (repeatable), e.g. TLS_AES_128_GCM_SHA256")


def run(args: argparse.Namespace) -> int:
    accounts = load_accounts(args.accounts_file) if args.accounts_file else generate_accounts(args.accounts, args.seed)
    save_accounts(args.accounts_out, accounts)
    sim = start_exchange_sim(accounts, host=args.host, port=args.port, tls_max_version=args.tls_max,
                             tls13_suites=args.tls13_suites)
    sim.ca.write_cert(args.ca_out)
    print(json.dumps({"host": sim.host, "port": sim.port, "ca": args.ca_out, "accounts": args.accounts_out}),
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
