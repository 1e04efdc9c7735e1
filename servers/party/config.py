"""Configuration of one computation party (TOML ``[party]`` + ``MPCSTATS_PARTY_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from servers.common.config import MIN_TOKEN_CHARS
from servers.common.mpc_deadline import (DEFAULT_BASE_SECONDS, DEFAULT_MAX_SECONDS,
                                         DEFAULT_SECONDS_PER_INPUT,
                                         DEFAULT_SECONDS_PER_SUBMISSION, MPCDeadline)

#: The accepted values of ``mpc_security`` (``mpc_programs.runtime.product_check``'s levels).
MPC_SECURITY_LEVELS = ("malicious", "semi-honest")


@dataclass
class PartyConfig:
    #: This party's index (0, 1 or 2): which MPyC id, which share evaluation point.
    index: int
    #: Where this party keeps its share store (`shares.json` and the segment directory
    #: `shares.json.segments/`: back up both together), results and signing key.
    data_dir: Path
    #: The three parties' MPyC listeners as host:port, in party order (all on other hosts
    #: in production; MPyC connects party i to party j > i directly).
    mpc_peers: list[str]
    #: This party's own credential: the bearer token the coordinator presents to this party, and
    #: to no other, for control calls (sessions, verify, commit, abort, query) — the coordinator's
    #: ``party_tokens[index]``. The other parties accept other tokens, so neither this party's
    #: operator nor anyone it leaks to can act at them.
    control_token: str
    #: Trusted notary public keys (base64 raw Ed25519, as ``GET /v1/key`` of the notary).
    notary_keys: list[str]
    host: str = "127.0.0.1"
    port: int = 8200
    #: Data sources this deployment counts (names of tlsn specs).
    sources: list[str] = field(default_factory=lambda: ["binance_eth"])
    #: TLS server name an attestation must carry, per source (default: the spec's host).
    server_names: dict[str, str] = field(default_factory=dict)
    attestation_max_age_seconds: float = 900.0
    session_ttl_seconds: float = 900.0
    #: Deadline of one MPC run (docs/deployment.md): ``mpc_timeout_seconds`` (the base: start-up,
    #: connections) plus ``mpc_seconds_per_submission`` per provider of a verification batch or
    #: ``mpc_seconds_per_input`` per stored input of a query, at most ``mpc_timeout_max_seconds``.
    #: The child is killed at the deadline, so a hung run holds this party that long at most.
    mpc_timeout_seconds: float = DEFAULT_BASE_SECONDS
    mpc_seconds_per_submission: float = DEFAULT_SECONDS_PER_SUBMISSION
    mpc_seconds_per_input: float = DEFAULT_SECONDS_PER_INPUT
    mpc_timeout_max_seconds: float = DEFAULT_MAX_SECONDS
    #: Directory holding ``.config/`` with this party's MPyC certificate, key and the
    #: deployment CA (``mpcstats mpc-certs`` generates it). Required: a party never runs MPC
    #: links without TLS bound to party numbers.
    mpc_ssl_dir: Path | None = None
    #: ``"malicious"`` (default): active security with abort against one dishonest party —
    #: in the statistics, the ingestion check and the AES-GCM verification every product is
    #: verified (Chida et al., CRYPTO 2018; ``product_check``, ``gf256_check``) and every
    #: opening checked before anything is opened, signed or stored, DP noise included (it is
    #: sampled inside MPC); docs/threat-model.md says what is not covered. ``"semi-honest"``:
    #: the cheaper MPyC model (benchmarks, development). All three parties must use the same
    #: value: it goes into every MPC job this party runs.
    mpc_security: str = "malicious"
    max_body_bytes: int = 512 * 1024
    #: This party computes nothing over fewer inputs, whatever the coordinator asks.
    min_inputs: int = 10
    #: The total ε this party lets differentially private queries spend over the pool's life
    #: (sequential composition; ``servers/party/budget.py``). A DP query that would exceed it
    #: is refused (409 ``privacy_budget_exhausted``); an identical query is answered from the
    #: persisted cache at no cost.
    privacy_budget_epsilon: float = 10.0
    #: ``"release"``: a query without ``privacy`` is computed only if it is one of
    #: ``exact_releases`` (``servers/party/policy.py``); ``"any"``: every exact query
    #: (development and tests only: exact quantiles, min, max and filters reveal balances).
    exact_queries: str = "release"
    #: The operator's exact releases: query specs (fixed statistics, quantile grid, edges).
    #: Empty: the foundation statistics without min and max (``policy.DEFAULT_RELEASE``).
    exact_releases: list[dict[str, Any]] = field(default_factory=list)
    #: Between two exact releases over different pools, at least this many new providers
    #: (differencing two releases then gives an aggregate of that many, never one balance).
    exact_release_min_new_providers: int = 5
    #: Public clipping bound per column (ETH) for DP sums, means, variances and quantiles: a DP
    #: query on that column must use it as its ``clip`` (409 ``clip_not_allowed`` otherwise).
    dp_clip: dict[str, str] = field(default_factory=dict)
    max_pending_sessions: int = 10_000
    #: Requests per second (and burst) per client address on the provider- and
    #: consumer-facing endpoints (share uploads, results, key); the coordinator's
    #: token-checked control calls are not limited here. 429 + Retry-After above it.
    client_rate: float = 20.0
    client_burst: float = 40.0
    global_rate: float = 500.0
    global_burst: float = 1000.0

    RETIRED: ClassVar[dict[str, str]] = {"coordinator_token": (
        "it was one token shared by the three parties, so it is known to the other two operators; "
        "write control_token = \"<this party's own token>\" (or MPCSTATS_PARTY_CONTROL_TOKEN), the "
        "entry party_tokens[index] of the coordinator's config: a new random string of at least "
        f"{MIN_TOKEN_CHARS} characters that no other party holds")}

    def validate(self) -> None:
        if self.index not in (0, 1, 2):
            raise ValueError("index must be 0, 1 or 2")
        if len(self.mpc_peers) != 3:
            raise ValueError("mpc_peers must list the three parties' host:port")
        if len(self.control_token) < MIN_TOKEN_CHARS:
            raise ValueError(f"control_token must be at least {MIN_TOKEN_CHARS} characters "
                             f"(got {len(self.control_token)})")
        if not self.notary_keys:
            raise ValueError("at least one notary key must be trusted")
        if self.mpc_ssl_dir is None:
            raise ValueError("mpc_ssl_dir is required: the directory holding .config/ with this "
                             "party's MPC certificate and key and the deployment's MPC CA "
                             "(see `mpcstats mpc-certs`); MPC links never run without TLS")
        if self.mpc_security not in MPC_SECURITY_LEVELS:
            raise ValueError(f"mpc_security must be one of "
                             f"{', '.join(map(repr, MPC_SECURITY_LEVELS))}, "
                             f"not {self.mpc_security!r}")
        if not self.privacy_budget_epsilon > 0:
            raise ValueError("privacy_budget_epsilon must be positive")
        for column, bound in self.dp_clip.items():
            try:
                ok = Decimal(bound) > 0
            except ArithmeticError:
                ok = False
            if not ok:
                raise ValueError(f"dp_clip.{column} must be a positive decimal (ETH), got {bound!r}")
        if self.exact_release_min_new_providers < 1:
            raise ValueError("exact_release_min_new_providers must be at least 1")
        if self.exact_queries not in ("release", "any"):
            raise ValueError('exact_queries must be "release" or "any"')
        self.mpc_deadline().check()

    def mpc_deadline(self) -> MPCDeadline:
        return MPCDeadline(self.mpc_timeout_seconds, self.mpc_seconds_per_submission,
                           self.mpc_seconds_per_input, self.mpc_timeout_max_seconds)

    def mpc_addresses(self) -> list[tuple[str, int]]:
        out = []
        for entry in self.mpc_peers:
            host, _, port = entry.rpartition(":")
            out.append((host, int(port)))
        return out
