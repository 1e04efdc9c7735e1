"""``mpcstats`` — one console script, subcommands registered in ``COMMANDS``.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
Nested groups (``bench mpc``) are modules that expose ``SUBCOMMANDS`` instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mpcstats import __version__

# name -> (module, one-line help). Modules are imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("mpcstats.commands.demo", "run the local demo end to end and print the statistics"),
    "bench": ("mpcstats.commands.bench", "benchmarks (mpc, ...); prints JSON"),
}


def _register(sub: argparse._SubParsersAction, commands: dict[str, tuple[str, str]]) -> None:
    for name, (module_name, help_text) in commands.items():
        module = importlib.import_module(module_name)
        parser = sub.add_parser(name, help=help_text, description=module.__doc__)
        nested = getattr(module, "SUBCOMMANDS", None)
        if nested:
            _register(parser.add_subparsers(dest=f"{name}_command", required=True), nested)
        else:
            module.add_arguments(parser)
            parser.set_defaults(_run=module.run)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpcstats", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mpcstats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Import only the module that is asked for, so that a broken optional part
    # (say, Qt on a server) cannot break unrelated subcommands.
    wanted = next((a for a in argv if not a.startswith("-")), None)
    if wanted in COMMANDS:
        _register(sub, {wanted: COMMANDS[wanted]})
    else:
        for name, (_, help_text) in COMMANDS.items():
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
