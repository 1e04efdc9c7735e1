"""The shared shape of a server's command: ``mpcstats <server> --config FILE``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from servers.common.config import ConfigError, load_config
from servers.common.logging import configure_logging
from servers.common.serve import run_forever

T = TypeVar("T")


def add_server_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    parser.add_argument("--config", required=True, help=f"TOML file with a [{section}] table")
    parser.add_argument("--log-level", default="info")


def run_server(args: argparse.Namespace, config_cls: type[T], section: str,
               create_app: Callable[[T], Any]) -> int:
    """Configure JSON logging, load the config (exit 2 with the reason if it is bad), serve."""
    configure_logging(args.log_level.upper(), service=section)
    try:
        config = load_config(config_cls, section, args.config)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    return run_forever(create_app(config), config.host, config.port,  # type: ignore[attr-defined]
                       log_level=args.log_level)
