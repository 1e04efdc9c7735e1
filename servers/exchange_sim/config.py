"""The exchange simulator's settings (``[exchange_sim]`` in its TOML file; ``MPCSTATS_EXCHANGE_SIM_*``
overrides; the command's flags override both). Test and demo only: it answers like Binance's
``GET /api/v3/account`` under its own test CA."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ExchangeSimConfig:
    #: Listen address and port (HTTPS).
    host: str = "127.0.0.1"
    port: int = 8443
    #: How many deterministic simulated accounts to generate from ``seed``.
    accounts: int = 10
    seed: int = 0
    #: Load the accounts from this JSON file instead of generating them.
    accounts_file: Path | None = None
    #: Where to write the accounts with their API keys (for the demo's providers).
    accounts_out: Path = Path("exchange_accounts.json")
    #: Where to write the test CA's certificate: the notary's ``trust_roots`` and the providers'
    #: ``exchange_ca_file``.
    ca_out: Path = Path("exchange_ca.pem")
    #: Highest TLS version: "1.2" or "1.3".
    tls_max: str = "1.3"
    #: Pin TLS 1.3 suites, e.g. ["TLS_AES_128_GCM_SHA256"] (empty: OpenSSL's default).
    tls13_suites: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.tls_max not in ("1.2", "1.3"):
            raise ValueError('tls_max must be "1.2" or "1.3"')
        if self.accounts < 1:
            raise ValueError("accounts must be at least 1")
