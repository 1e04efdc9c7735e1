"""Run the notary server.

It relays TLS bytes to the hosts on its allow-list only, checks each server's certificate and
handshake from what it relayed, and signs attestations over ciphertext. Example ``notary.toml``::

    [notary]
    key_file = "notary_key.pem"      # Ed25519, created with mode 0600 on first start
    trust_roots = "system"           # or a PEM file of CA certificates
    max_session_bytes = 1000000
    max_session_seconds = 30
    rate_limit = 30                  # sessions per client per rate_window_seconds
    rate_window_seconds = 60

    [hosts."api.binance.com"]
    connect = "api.binance.com"      # the notary resolves and connects itself
    port = 443
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from servers.notary.app import create_app
from servers.notary.config import load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8700, help="listen port (default 8700)")
    parser.add_argument("--config", required=True, help="notary TOML config (see above)")
    parser.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    config = load_config(args.config)
    logging.getLogger("servers.notary").info("notary key %s, %d allowed hosts", config.key.key_id,
                                             len(config.hosts))
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level,
                ws="websockets-sansio", ws_max_size=1 << 20)
    return 0
