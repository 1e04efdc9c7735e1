"""Run the results API: poll the three parties, serve the statistics they agree on.

Settings come from ``--config results.toml`` (section ``[results]``) and ``MPCSTATS_RESULTS_*``
environment variables; see ``servers/results/config.py``.
"""

from __future__ import annotations

import argparse
import sys

from servers.common.config import ConfigError
from servers.common.logging import configure_logging
from servers.common.serve import run_forever
from servers.results.app import create_app
from servers.results.config import load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML file with a [results] section")
    parser.add_argument("--host", help="override results.host")
    parser.add_argument("--port", type=int, help="override results.port")


def run(args: argparse.Namespace) -> int:
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"mpcstats results: bad configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, service="results")
    host = args.host or config.host
    port = args.port if args.port is not None else config.port
    return run_forever(create_app(config), host, port, log_level=config.log_level.lower())
