"""Notary configuration: which hosts it relays to, whom it trusts, its key and its limits.

The allow-list maps the *server name* a client asks for to the address the notary itself connects to
(normally the same name, resolved by the notary's own DNS). Clients never supply an address: that is
what keeps the notary from being an open proxy, and what keeps a provider off the notary's path.
Tests map e.g. ``api.binance.test`` to ``127.0.0.1:<port>``.

The file format is documented in ``servers/notary/main.py``. ``[notary]`` is read by
:func:`servers.common.config.load_config` like every server's section: values are type-checked, unknown
keys are errors and ``MPCSTATS_NOTARY_<KEY>`` environment variables override the file. The top-level
``[hosts."name"]`` tables are the allow-list.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from servers.common.config import ConfigError, from_dict
from servers.common.config import load_config as load_section
from tlsn import NotaryKey


@dataclass(frozen=True)
class HostTarget:
    connect_host: str
    port: int


@dataclass(kw_only=True)
class NotaryLimits:
    """What one client and one session may cost the notary."""

    #: Most bytes relayed in one session (both directions) and its longest duration.
    max_session_bytes: int = 1_000_000
    max_session_seconds: float = 30.0
    #: New sessions per client per ``rate_window_seconds``: a token bucket holding ``rate_limit`` sessions,
    #: refilled at ``rate_limit / rate_window_seconds`` per second (so a burst of ``rate_limit``, and the
    #: same long-run rate as a sliding window of that size).
    rate_limit: int = 30
    rate_window_seconds: float = 60.0
    #: Seconds to open the TCP connection to the exchange.
    connect_timeout: float = 5.0
    #: Most sessions open at once, over all clients.
    max_open_sessions: int = 1000

    def validate(self) -> None:
        if self.rate_limit < 1 or self.rate_window_seconds <= 0:
            raise ValueError("rate_limit must be at least 1 and rate_window_seconds positive")
        if self.max_session_bytes < 1 or self.max_session_seconds <= 0 or self.max_open_sessions < 1:
            raise ValueError("max_session_bytes, max_session_seconds and max_open_sessions must be positive")


@dataclass(kw_only=True)
class NotarySection(NotaryLimits):
    """The ``[notary]`` table of the config file."""

    #: Listen address and port of the notary's HTTP API.
    host: str = "127.0.0.1"
    port: int = 8700
    #: Ed25519 signing key, created (mode 0600) on first start; default ``notary_key.pem`` next to the file.
    key_file: Path | None = None
    #: ``"system"`` (the OS trust store) or a PEM file of CA certificates, relative to the config file.
    trust_roots: str = "system"


@dataclass(frozen=True)
class _HostTable:
    """One ``[hosts."name"]`` table; ``connect`` defaults to the name itself."""

    #: The host name or address the notary itself resolves and connects to (default: the table's
    #: server name); never taken from a client.
    connect: str | None = None
    #: The exchange's TLS port.
    port: int = 443

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError("port must be between 1 and 65535")


@dataclass(kw_only=True)
class NotaryConfig(NotaryLimits):
    """Everything a running notary needs (built from the file by :func:`load_config`, or directly)."""

    hosts: dict[str, HostTarget]
    trust_roots: list[x509.Certificate]
    key: NotaryKey = field(default_factory=NotaryKey.generate)
    host: str = "127.0.0.1"
    port: int = 8700


def system_trust_roots() -> list[x509.Certificate]:
    """The OS trust store, as parsed certificates (for production notaries)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.exists(candidate):
            return load_trust_roots(candidate)
    return []


def load_trust_roots(path: str | Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def load_or_create_key(path: str | Path) -> NotaryKey:
    """Read the Ed25519 key; create it (mode 0600) on first start."""
    p = Path(path)
    if p.exists():
        return NotaryKey.from_pem(p.read_bytes())
    key = NotaryKey.generate()
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.to_pem())
    return key


def load_config(path: str | Path | None, *, create_key: bool = True) -> NotaryConfig:
    """Read the notary's TOML file (and ``MPCSTATS_NOTARY_*``); create the key on first start.

    ``create_key=False`` (``--check-config``) leaves a missing key file alone.
    """
    if path is None:
        raise ConfigError("", "the notary needs its config file (--config FILE): its [hosts] tables "
                              "are the allow-list")
    p = Path(path)
    section = load_section(NotarySection, "notary", p)  # checks the file exists and is TOML
    base_dir = p.resolve().parent
    hosts_table = tomllib.loads(p.read_text()).get("hosts", {})
    if not isinstance(hosts_table, dict):
        raise ConfigError("hosts", "must be a table of server names")
    hosts: dict[str, HostTarget] = {}
    for name, table in hosts_table.items():
        if not isinstance(table, dict):
            raise ConfigError(f"hosts.{name}", "must be a table")
        entry = from_dict(_HostTable, table, f"hosts.{name}")
        hosts[name.lower()] = HostTarget(entry.connect or name, entry.port)
    if not hosts:
        raise ConfigError("hosts", 'no server is allowed: add a [hosts."<server name>"] table per '
                                   "exchange host the notary may relay to")
    try:
        roots = (system_trust_roots() if section.trust_roots == "system"
                 else load_trust_roots(base_dir / section.trust_roots))
    except (OSError, ValueError) as exc:
        raise ConfigError("notary.trust_roots", f'"system" or a PEM file of CA certificates; '
                          f"{base_dir / section.trust_roots}: {getattr(exc, 'strerror', None) or exc}") from None
    if not roots:
        raise ConfigError("notary.trust_roots", "no CA certificate found: the notary could verify no "
                          "exchange; name a PEM file of CA certificates")
    key_file = section.key_file or base_dir / "notary_key.pem"
    try:
        key = (load_or_create_key(key_file) if create_key or key_file.exists()
               else NotaryKey.generate())
    except (OSError, ValueError) as exc:
        raise ConfigError("notary.key_file", f"{key_file}: {getattr(exc, 'strerror', None) or exc}") from None
    limits = {f.name: getattr(section, f.name) for f in dataclasses.fields(NotaryLimits)}
    return NotaryConfig(hosts=hosts, trust_roots=roots, key=key, host=section.host, port=section.port,
                        **limits)
