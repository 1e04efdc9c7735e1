"""Notary configuration: which hosts it relays to, whom it trusts, its key and its limits.

The allow-list maps the *server name* a client asks for to the address the notary itself connects to
(normally the same name, resolved by the notary's own DNS). Clients never supply an address: that is
what keeps the notary from being an open proxy, and what keeps a provider off the notary's path.
Tests map e.g. ``api.binance.test`` to ``127.0.0.1:<port>``.
"""

from __future__ import annotations

import os
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from tlsn import NotaryKey


@dataclass(frozen=True)
class HostTarget:
    connect_host: str
    port: int


@dataclass
class NotaryConfig:
    hosts: dict[str, HostTarget]
    trust_roots: list[x509.Certificate]
    key: NotaryKey = field(default_factory=NotaryKey.generate)
    max_session_bytes: int = 1_000_000
    max_session_seconds: float = 30.0
    rate_limit: int = 30  # new sessions per client per window
    rate_window_seconds: float = 60.0
    connect_timeout: float = 5.0
    max_open_sessions: int = 1000


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


def parse_config(data: dict[str, Any], base_dir: Path = Path(".")) -> NotaryConfig:
    notary = data.get("notary", {})
    hosts = {name.lower(): HostTarget(str(t.get("connect", name)), int(t.get("port", 443)))
             for name, t in data.get("hosts", {}).items()}
    roots_setting = notary.get("trust_roots", "system")
    roots = system_trust_roots() if roots_setting == "system" else load_trust_roots(base_dir / roots_setting)
    key = load_or_create_key(base_dir / notary.get("key_file", "notary_key.pem"))
    return NotaryConfig(
        hosts=hosts, trust_roots=roots, key=key,
        max_session_bytes=int(notary.get("max_session_bytes", 1_000_000)),
        max_session_seconds=float(notary.get("max_session_seconds", 30)),
        rate_limit=int(notary.get("rate_limit", 30)),
        rate_window_seconds=float(notary.get("rate_window_seconds", 60)),
        connect_timeout=float(notary.get("connect_timeout", 5)))


def load_config(path: str | Path) -> NotaryConfig:
    p = Path(path)
    return parse_config(tomllib.loads(p.read_text()), p.parent)
