"""``mpcstats party --config party.toml``: run one computation party's HTTP server.

Before it serves, the party checks what would otherwise fail only at the first MPC run, minutes later
and in its own log: that ``mpc_ssl_dir`` holds its certificate, key and the deployment's MPC CA, and that
its MPC address (``mpc_peers[index]``) can be listened on here.
"""

from __future__ import annotations

import argparse
import socket

from servers.common.cli import add_server_arguments, run_server
from servers.common.config import ConfigError, load_config
from servers.common.mpc_pki import CA_FILE, CONFIG_DIR
from servers.common.serve import ServerStartError, listen_socket
from servers.party.app import create_app
from servers.party.config import PartyConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_server_arguments(parser, "party")


def load(path: str | None, check: bool) -> PartyConfig:
    config = load_config(PartyConfig, "party", path)
    check_mpc_ssl_dir(config)
    return config


def check_mpc_ssl_dir(config: PartyConfig) -> None:
    """The files MPyC's ``--ssl`` reads, named by the key that points at them."""
    assert config.mpc_ssl_dir is not None  # validate() requires it
    base = config.mpc_ssl_dir / CONFIG_DIR
    for name in (CA_FILE, f"party_{config.index}.crt", f"party_{config.index}.key"):
        if not (base / name).is_file():
            raise ConfigError("party.mpc_ssl_dir", f"{base / name} is missing: {config.mpc_ssl_dir} must "
                              f"hold .config/ with this party's MPC certificate and key and the "
                              f"deployment's MPC CA (`mpcstats mpc-certs install`, docs/deployment.md)")


def check_mpc_port(config: PartyConfig) -> None:
    """MPyC listens on ``mpc_peers[index]``: fail now, naming it, if that address cannot be bound."""
    host, port = config.mpc_addresses()[config.index]
    try:
        listen_socket(host, port).close()
    except ServerStartError as exc:
        raise ServerStartError(f"MPC address party.mpc_peers[{config.index}] = "
                               f"{config.mpc_peers[config.index]}: {str(exc).split(': ', 1)[-1]} "
                               f"(MPyC listens on this party's own entry of mpc_peers)") from None
    except (OSError, socket.error) as exc:  # pragma: no cover - listen_socket maps OSError
        raise ServerStartError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return run_server(args, PartyConfig, "party", create_app, load=load, preflight=check_mpc_port)
