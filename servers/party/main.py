"""``mpcstats party --config party.toml``: run one computation party's HTTP server."""

from __future__ import annotations

import argparse

from servers.common.cli import add_server_arguments, run_server
from servers.party.app import create_app
from servers.party.config import PartyConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, "party")


def run(args: argparse.Namespace) -> int:
    return run_server(args, PartyConfig, "party", create_app)
