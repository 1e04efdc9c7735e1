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

Every ``[notary]`` key (``host``, ``port`` included) can be overridden by an ``MPCSTATS_NOTARY_<KEY>``
environment variable (e.g. ``MPCSTATS_NOTARY_RATE_LIMIT=60``), and ``--host``/``--port`` override both;
unknown keys are errors. Logs are JSON lines on stderr.
"""

from __future__ import annotations

import argparse
import logging

from servers.common.cli import add_server_arguments, run_server
from servers.notary.app import UVICORN_OPTIONS, create_app
from servers.notary.config import NotaryConfig, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, "notary")


def _create_app(config: NotaryConfig):  # type: ignore[no-untyped-def]
    logging.getLogger("servers.notary").info("notary starting", extra={"key_id": config.key.key_id,
                                                                        "allowed_hosts": len(config.hosts)})
    return create_app(config)


def run(args: argparse.Namespace) -> int:
    return run_server(args, NotaryConfig, "notary", _create_app,
                      load=lambda path, check: load_config(path, create_key=not check),
                      uvicorn_options=UVICORN_OPTIONS)
