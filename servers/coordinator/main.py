"""``mpcstats coordinator --config coordinator.toml``: run the coordinator."""

from __future__ import annotations

import argparse

from servers.common.config import ConfigError, load_config
from servers.common.logging import configure_logging
from servers.common.serve import run_forever
from servers.coordinator.app import create_app
from servers.coordinator.config import CoordinatorConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="TOML file with a [coordinator] table")
    parser.add_argument("--log-level", default="info")


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level.upper(), service="coordinator")
    try:
        config = load_config(CoordinatorConfig, "coordinator", args.config)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    return run_forever(create_app(config), config.host, config.port, log_level=args.log_level)
