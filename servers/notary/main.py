"""Run the notary server.

It relays TLS bytes to the hosts on its allow-list only, checks each server's certificate and
handshake from what it relayed, and signs attestations over ciphertext. Example ``notary.toml``::

    [notary]
    key_file = "notary_key.pem"      # Ed25519, created with mode 0600 on first start
    trust_roots = "system"           # or a PEM file of CA certificates
    max_session_bytes = 1000000
    max_session_seconds = 30
    rate_limit = 30                  # sessions per client per rate_window_seconds (token bucket)
    rate_window_seconds = 60

    [hosts."api.binance.com"]
    connect = "api.binance.com"      # the notary resolves and connects itself
    port = 443

Every ``[notary]`` key can be overridden by an ``MPCSTATS_NOTARY_<KEY>`` environment variable (e.g.
``MPCSTATS_NOTARY_RATE_LIMIT=60``); unknown keys are errors. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

from servers.common.config import ConfigError
from servers.common.logging import configure_logging
from servers.common.serve import run_forever
from servers.notary.app import UVICORN_OPTIONS, create_app
from servers.notary.config import load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8700, help="listen port (default 8700)")
    parser.add_argument("--config", required=True, help="notary TOML config (see above)")
    parser.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level.upper(), service="notary")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"mpcstats notary: bad configuration: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("servers.notary").info("notary starting", extra={"key_id": config.key.key_id,
                                                                        "allowed_hosts": len(config.hosts)})
    return run_forever(create_app(config), args.host, args.port, log_level=args.log_level, **UVICORN_OPTIONS)
