"""``mpcstats coordinator --config coordinator.toml``: run the coordinator."""

from __future__ import annotations

import argparse

from servers.common.cli import add_server_arguments, run_server
from servers.coordinator.app import create_app
from servers.coordinator.config import CoordinatorConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, "coordinator")


def run(args: argparse.Namespace) -> int:
    return run_server(args, CoordinatorConfig, "coordinator", create_app)
