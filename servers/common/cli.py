"""The shared shape of a server's command: ``mpcstats <server> --config FILE [--host H] [--port P]``.

Every server (notary, coordinator, party, results, exchange-sim) takes the same options:

- ``--config FILE``: its TOML file (a ``[<section>]`` table); ``MPCSTATS_<SECTION>_<KEY>`` environment
  variables override the file, and ``--host``/``--port`` override both.
- ``--check-config FILE``: load and validate FILE (with the environment's overrides) without starting
  anything; exit 0 and say where it would listen, or exit 2 naming the key to fix.
- ``--log-level``: debug, info, warning, error.

A configuration error exits 2 with the key to fix; a server that cannot start (a port in use, an address
the host does not have) exits 1 naming the address and the key that sets it. Never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from servers.common.config import ENV_PREFIX, ConfigError, load_config
from servers.common.logging import configure_logging
from servers.common.serve import ServerStartError, run_forever

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
#: ``load(path, check_only)``: read a config file (path None: environment only). ``check_only`` asks for
#: no side effects (the notary then does not create its key).
Loader = Callable[[str | None, bool], Any]


def env_prefix(section: str) -> str:
    return f"{ENV_PREFIX}_{section.upper()}_"


def add_server_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    prefix = env_prefix(section)
    parser.add_argument("--config", metavar="FILE",
                        help=f"TOML file with a [{section}] table (keys: docs/configuration.md); "
                             f"{prefix}<KEY> environment variables override it")
    parser.add_argument("--host", help=f"listen address (overrides {section}.host and {prefix}HOST)")
    parser.add_argument("--port", type=int, help=f"listen port (overrides {section}.port and {prefix}PORT; "
                                                 "0: any free port)")
    parser.add_argument("--check-config", metavar="FILE",
                        help="validate FILE (with the environment's overrides) and exit: 0 if usable, "
                             "2 naming the key to fix")
    parser.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"],
                        type=str.lower, help="default: info")


def load_server_config(args: argparse.Namespace, section: str, load: Loader,
                       prog: str | None = None, *, needs_file: bool = True) -> tuple[Any, int | None]:
    """``(config, None)`` to go on; ``(None, exit_code)`` when the command is done (--check-config, or
    a configuration error, printed with the key to fix)."""
    prog = prog or f"mpcstats {section}"
    check = args.check_config is not None
    path = args.check_config if check else args.config
    if (path is None and needs_file
            and not any(name.startswith(env_prefix(section)) for name in os.environ)):
        print(f"{prog}: give --config FILE (a TOML file with a [{section}] table; every key is "
              f"described in docs/configuration.md)", file=sys.stderr)
        return None, EXIT_CONFIG
    try:
        config = load(path, check)
        apply_listen_overrides(config, args, section)
    except ConfigError as exc:
        where = f"{path}: " if path else ""
        print(f"{prog}: bad configuration: {where}{exc}", file=sys.stderr)
        return None, EXIT_CONFIG
    if check:
        print(f"{prog}: {path}: ok (would listen on {config.host}:{config.port})")
        return None, EXIT_OK
    return config, None


def apply_listen_overrides(config: Any, args: argparse.Namespace, section: str) -> None:
    if args.host is not None:
        config.host = args.host
    if args.port is not None:
        config.port = args.port
    if not 0 <= int(config.port) < 65_536:
        raise ConfigError(f"{section}.port", f"must be in 0..65535, got {config.port}")


def start_failure(prog: str, section: str, exc: BaseException) -> int:
    """A server that could not start: say why, and which settings choose the address."""
    print(f"{prog}: {exc}; the address is set by {section}.host / {section}.port in the config file, "
          f"{env_prefix(section)}HOST / {env_prefix(section)}PORT or --host / --port", file=sys.stderr)
    return EXIT_FAILED


def run_server(args: argparse.Namespace, config_cls: type[T] | None, section: str,
               create_app: Callable[[T], Any], *, load: Loader | None = None,
               preflight: Callable[[T], None] | None = None,
               uvicorn_options: dict[str, Any] | None = None) -> int:
    """Load the config (exit 2 with the key to fix if it is bad), configure JSON logging, serve.

    ``preflight(config)`` may raise :class:`ServerStartError` or :class:`ConfigError` for what must hold
    before serving (a party's MPC port free); ``load`` replaces :func:`load_config` of ``config_cls``.
    """
    prog = f"mpcstats {section}"
    if load is None:
        def load(path: str | None, check: bool) -> Any:
            return load_config(config_cls, section, path)  # type: ignore[arg-type]
    config, code = load_server_config(args, section, load)
    if config is None:
        return code or 0
    level = args.log_level or str(getattr(config, "log_level", "info")).lower()
    configure_logging(level.upper(), service=section)
    try:
        if preflight is not None:
            preflight(config)
        app = create_app(config)
    except ConfigError as exc:
        print(f"{prog}: bad configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ServerStartError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"{prog}: cannot start: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return run_forever(app, config.host, config.port, log_level=level, **(uvicorn_options or {}))
    except ServerStartError as exc:
        return start_failure(prog, section, exc)
