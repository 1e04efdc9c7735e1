"""Run the exchange simulator: HTTPS on loopback with its own test CA, answering like Binance's
``GET /api/v3/account`` for deterministic simulated accounts.

Writes the CA certificate (``--ca-out``) for clients and the notary to trust, and the accounts with
their API keys (``--accounts-out``) for the demo's providers. Prints one JSON line with the address.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from servers.common.cli import EXIT_FAILED, add_server_arguments, load_server_config, start_failure
from servers.common.config import load_config
from servers.exchange_sim.accounts import generate_accounts, load_accounts, save_accounts
from servers.exchange_sim.config import ExchangeSimConfig
from servers.exchange_sim.server import start_exchange_sim

SECTION = "exchange_sim"
PROG = "mpcstats exchange-sim"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, SECTION)
    # each flag overrides the [exchange_sim] key of the same name
    parser.add_argument("--accounts", type=int, help="number of simulated accounts (default 10)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--accounts-file", type=Path, help="load accounts from this JSON instead of generating")
    parser.add_argument("--accounts-out", type=Path, help="default exchange_accounts.json")
    parser.add_argument("--ca-out", type=Path, help="default exchange_ca.pem")
    parser.add_argument("--tls-max", choices=["1.2", "1.3"])
    parser.add_argument("--tls13-suite", action="append", dest="tls13_suites",
                        help="pin TLS 1.3 suites (repeatable), e.g. TLS_AES_128_GCM_SHA256")


def run(args: argparse.Namespace) -> int:
    config, code = load_server_config(args, SECTION, lambda path, check: load_config(
        ExchangeSimConfig, SECTION, path), PROG, needs_file=False)
    if config is None:
        return code or 0
    for name in ("accounts", "seed", "accounts_file", "accounts_out", "ca_out", "tls_max", "tls13_suites"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    try:
        accounts = (load_accounts(config.accounts_file) if config.accounts_file
                    else generate_accounts(config.accounts, config.seed))
        save_accounts(config.accounts_out, accounts)
    except (OSError, ValueError, TypeError) as exc:
        print(f"{PROG}: accounts: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        sim = start_exchange_sim(accounts, host=config.host, port=config.port,
                                 tls_max_version=config.tls_max, tls13_suites=config.tls13_suites or None)
    except OSError as exc:
        return start_failure(PROG, SECTION, f"cannot listen on {config.host}:{config.port}: "
                             f"{exc.strerror or exc}")
    sim.ca.write_cert(config.ca_out)
    print(json.dumps({"host": sim.host, "port": sim.port, "ca": str(config.ca_out),
                      "accounts": str(config.accounts_out)}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
