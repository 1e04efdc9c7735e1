"""``mpcstats`` — one console script, subcommands registered in ``COMMANDS``.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
Nested groups (``bench mpc``) are modules that expose ``SUBCOMMANDS`` instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mpcstats import __version__

# name -> (module, one-line help). Modules are imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("mpcstats.commands.demo", "run the local demo end to end and print the statistics"),
    "bench": ("mpcstats.commands.bench", "benchmarks (mpc, notary, verify, ...); print JSON"),
    "notarize": ("provider_app.commands.notarize",
                 "notarize one account response through a notary; write attestation + session secrets"),
    "exchange-sim": ("servers.exchange_sim.main", "run the exchange simulator (HTTPS, test CA)"),
    "notary": ("servers.notary.main", "run the notary server"),
    "coordinator": ("servers.coordinator.main", "run the coordinator server"),
    "party": ("servers.party.main", "run one computation party's server"),
    "results": ("servers.results.main", "run the results API"),
    "mpc-certs": ("servers.common.mpc_pki", "the MPC links' CA and party certificates: init, csr, sign, install"),
    "deployment": ("mpcstats.commands.deployment",
                   "the files a deployment hands out to providers and consumers (export)"),
    "up": ("mpcstats.commands.up", "start a whole local deployment on loopback and keep serving"),
    "provide": ("provider_app.commands.provide", "contribute one exchange balance (headless)"),
    "query": ("mpcstats.commands.query",
              "read the pool's statistics (--verify: check the parties' signatures yourself)"),
}


def _register(sub: argparse._SubParsersAction, commands: dict[str, tuple[str, str]],
              argv: list[str]) -> None:
    """Add ``commands`` to ``sub``; import only the one that ``argv`` asks for."""
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in commands.items():
        if name != wanted:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        parser = sub.add_parser(name, help=help_text, description=module.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        nested = getattr(module, "SUBCOMMANDS", None)
        if nested:
            rest = argv[argv.index(name) + 1:]
            _register(parser.add_subparsers(dest=f"{name}_command", required=True), nested, rest)
        else:
            module.add_arguments(parser)
            parser.set_defaults(_run=module.run)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpcstats", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mpcstats {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Import only the module that is asked for, so that a broken optional part
    # (say, Qt on a server) cannot break unrelated subcommands.
    _register(sub, COMMANDS, list(argv))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a file or an address the user named: say which, without a traceback
        if os.environ.get("MPCSTATS_TRACEBACK"):
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"mpcstats {args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("MPCSTATS_TRACEBACK"):
            raise
        print(f"mpcstats {args.command}: internal error: {type(exc).__name__}: {exc}\n"
              f"Please report it; MPCSTATS_TRACEBACK=1 shows the traceback.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
