"""Run the results API: poll the three parties, serve the statistics they agree on.

Settings come from ``--config results.toml`` (section ``[results]``) and ``MPCSTATS_RESULTS_*``
environment variables; see ``servers/results/config.py``.
"""

from __future__ import annotations

import argparse

from servers.common.cli import add_server_arguments, run_server
from servers.results.app import create_app
from servers.results.config import ResultsConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, "results")


def run(args: argparse.Namespace) -> int:
    return run_server(args, ResultsConfig, "results", create_app)
