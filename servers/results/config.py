"""The results API's settings (``[results]`` in its TOML file; ``MPCSTATS_RESULTS_*`` overrides).

Example::

    [results]
    host = "0.0.0.0"
    port = 8090
    data_dir = "results-data"
    poll_seconds = 15
    min_providers = 5   # the page says "Not enough providers yet" below this (match the coordinator's min_inputs)

    [[results.parties]]
    pid = 0
    url = "https://party0.example.org"
    public_key = "<64 hex digits: the party's raw Ed25519 public key>"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from servers.common.config import load_config
from servers.common.signing import SignatureError, load_public_key


@dataclass
class PartyEndpoint:
    """One computation party: where to ask and which key alone may sign its results."""

    #: The party's index: 0, 1 or 2.
    pid: int
    #: Its public base URL (http:// or https://; `party_ca_file` for a private CA).
    url: str
    #: Its raw Ed25519 public key, 64 hex digits (the party's `GET /v1/key`; created in its `data_dir`
    #: at first start).
    public_key: str

    def key(self) -> Ed25519PublicKey:
        return load_public_key(self.public_key)

    def validate(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"party {self.pid} url must start with http:// or https://")
        try:
            self.key()
        except SignatureError as exc:
            raise ValueError(f"party {self.pid} public_key: {exc.message}") from None


@dataclass
class ResultsConfig:
    data_dir: Path
    #: The three computation parties, as `[[results.parties]]` tables (below).
    parties: list[PartyEndpoint]
    host: str = "127.0.0.1"
    port: int = 8090
    poll_seconds: float = 10.0
    request_timeout: float = 5.0
    history_limit: int = 1000
    max_result_bytes: int = 1 << 20
    #: Requests per second (and burst) per client address; 429 + Retry-After above it.
    client_rate: float = 20.0
    client_burst: float = 40.0
    #: The same for the whole server, over all clients.
    global_rate: float = 500.0
    global_burst: float = 1000.0
    #: Log level when ``--log-level`` is not given.
    log_level: str = "INFO"
    results_path: str = "/v1/results/latest"
    # CA bundle for parties served over HTTPS with a private CA; None: the system trust store.
    party_ca_file: Path | None = None
    # The page says "not enough providers yet" while the latest result covers fewer inputs than this.
    # The coordinator's min_inputs is what stops small pools from being computed at all; set both alike.
    min_providers: int = 1
    # How far a signed result's computed_at may lie ahead of this server's clock; a later one is refused:
    # served, it would hold back every honest release until that time (results are never rolled back).
    future_tolerance_seconds: float = 600.0
    #: The coordinator's URL, to show on the page when the release is recomputed next
    #: (``GET /v1/release``; informational, unsigned). Empty: the page does not say.
    coordinator_url: str = ""

    RETIRED: ClassVar[dict[str, str]] = {
        old: f"every server names its rate limits alike: write {new} instead"
        for old, new in (("rate_per_second", "client_rate"), ("rate_burst", "client_burst"),
                         ("global_rate_per_second", "global_rate"), ("global_rate_burst", "global_burst"))}

    def validate(self) -> None:
        if len(self.parties) != 3:
            raise ValueError(f"exactly 3 parties are required, got {len(self.parties)}")
        if sorted(p.pid for p in self.parties) != [0, 1, 2]:
            raise ValueError("party pids must be 0, 1 and 2")
        keys = {p.public_key.strip().lower() for p in self.parties}
        if len(keys) != 3:
            raise ValueError("each party needs its own public key")
        if not 0 < self.poll_seconds <= 86_400:
            raise ValueError("poll_seconds must be in (0, 86400]")
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be > 0")
        if not 1 <= self.history_limit <= 1_000_000:
            raise ValueError("history_limit must be in [1, 1000000]")
        if self.party_ca_file is not None and not self.party_ca_file.is_file():
            raise ValueError(f"party_ca_file {self.party_ca_file} does not exist")
        if not 0 <= self.future_tolerance_seconds <= 86_400:
            raise ValueError("future_tolerance_seconds must be in [0, 86400]")
        if self.min_providers < 1:
            raise ValueError("min_providers must be at least 1")
        if not 0 <= self.port < 65_536:
            raise ValueError("port must be in 0..65535 (0: any free port)")
        if min(self.client_rate, self.client_burst, self.global_rate, self.global_burst) <= 0:
            raise ValueError("client_rate, client_burst, global_rate and global_burst must be positive")

    def party_keys(self) -> dict[int, Ed25519PublicKey]:
        return {p.pid: p.key() for p in self.parties}


def load(path: str | Path | None) -> ResultsConfig:
    return load_config(ResultsConfig, "results", path)
