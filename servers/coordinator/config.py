"""Configuration of the coordinator (TOML ``[coordinator]`` + ``MPCSTATS_COORDINATOR_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from servers.common.config import MIN_TOKEN_CHARS
from servers.common.mpc_deadline import (DEFAULT_BASE_SECONDS, DEFAULT_MAX_SECONDS,
                                         DEFAULT_SECONDS_PER_INPUT,
                                         DEFAULT_SECONDS_PER_SUBMISSION, MPCDeadline)


@dataclass
class CoordinatorConfig:
    data_dir: Path
    #: Base URLs of the three computation parties' HTTP APIs, in party order.
    parties: list[str]
    #: One bearer token per party, in party order: party i accepts only ``party_tokens[i]``
    #: (its ``control_token``), so the token one party's operator holds is useless at the others.
    party_tokens: list[str]
    #: Trusted notary public keys (base64 raw Ed25519).
    notary_keys: list[str]
    host: str = "127.0.0.1"
    port: int = 8100
    #: Base URLs the providers should use for the parties (default: ``parties``).
    public_party_urls: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=lambda: ["binance_eth"])
    server_names: dict[str, str] = field(default_factory=dict)
    attestation_max_age_seconds: float = 900.0
    session_ttl_seconds: float = 900.0
    #: How often waiting sessions are batched into a verification run, and the batch cap.
    batch_interval_seconds: float = 0.5
    max_batch: int = 64
    #: A verification run that fails while all three parties answer their health check is tried
    #: this many times before its sessions are rejected; a run that fails because a party is
    #: unreachable does not count: its sessions stay queued until the party is back.
    verify_attempts: int = 2
    #: HTTP timeout of a control call to a party (open a session, commit, abort); a call that
    #: runs MPC (verify, query) waits the run's deadline plus this much.
    party_timeout_seconds: float = 10.0
    #: Before every MPC run the coordinator asks the three parties' ``/health``, concurrently,
    #: with this timeout; a party that does not answer in time counts as unreachable.
    health_timeout_seconds: float = 2.0
    #: The MPC deadline (see servers/common/mpc_deadline.py and docs/deployment.md); set the same
    #: values as the parties, which enforce them on their MPC children.
    mpc_timeout_seconds: float = DEFAULT_BASE_SECONDS
    mpc_seconds_per_submission: float = DEFAULT_SECONDS_PER_SUBMISSION
    mpc_seconds_per_input: float = DEFAULT_SECONDS_PER_INPUT
    mpc_timeout_max_seconds: float = DEFAULT_MAX_SECONDS
    #: Also recompute the release on a timer: at most this often, and only after new inputs
    #: (0 turns the timer off; the release still follows new inputs, see below).
    auto_query_seconds: float = 0.0
    #: Recompute the published release this many seconds after the last newly counted input
    #: (a debounce: a burst of providers makes one release, not one each); 0 turns it off.
    release_debounce_seconds: float = 10.0
    #: ... but never later than this after the first input the release does not cover yet, so a
    #: steady stream of providers cannot hold the release back.
    release_max_delay_seconds: float = 120.0
    #: The query the schedule runs: the operator's exact release (empty: the parties' default
    #: release, ``servers/party/policy.DEFAULT_RELEASE``). The parties must list the same
    #: spec in their ``exact_releases``, or they refuse it (409 ``exact_query_refused``).
    release_query: dict[str, Any] = field(default_factory=dict)
    #: API keys allowed to ask queries that spend privacy budget (``privacy``): name → SHA-256
    #: hex of the key (``servers/coordinator/api_keys.py``); none: no DP query is accepted.
    api_keys: dict[str, str] = field(default_factory=dict)
    #: Per API key: queries per second and burst.
    api_key_rate: float = 0.2
    api_key_burst: float = 10.0
    #: Below this many inputs nothing is computed.
    min_inputs: int = 10
    #: Rate limits: per client address (requests/second, burst) and for the whole server.
    client_rate: float = 5.0
    client_burst: float = 20.0
    global_rate: float = 200.0
    global_burst: float = 400.0
    max_body_bytes: int = 512 * 1024  # a registration carries the response's records (tens of KB, hex)

    RETIRED: ClassVar[dict[str, str]] = {"party_token": (
        "one token shared by the three parties let any party's operator act at the other two; write "
        'party_tokens = ["<token of party 0>", "<token of party 1>", "<token of party 2>"] (or '
        "MPCSTATS_COORDINATOR_PARTY_TOKENS as a JSON list): three distinct random strings of at least "
        f"{MIN_TOKEN_CHARS} characters (`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
        "three times), and give party i's operator party_tokens[i] as its control_token")}

    def validate(self) -> None:
        from servers.coordinator.api_keys import ApiKeys

        ApiKeys(self.api_keys, self.api_key_rate, self.api_key_burst)  # raises on a bad hash
        if len(self.parties) != 3:
            raise ValueError("parties must list the three computation parties' URLs")
        if self.public_party_urls and len(self.public_party_urls) != 3:
            raise ValueError("public_party_urls must list three URLs")
        check_party_tokens(self.party_tokens)
        if not self.notary_keys:
            raise ValueError("at least one notary key must be trusted")
        if min(self.auto_query_seconds, self.release_debounce_seconds,
               self.release_max_delay_seconds) < 0:
            raise ValueError("auto_query_seconds, release_debounce_seconds and "
                             "release_max_delay_seconds must be >= 0")
        if self.max_batch < 1 or self.verify_attempts < 1 or self.min_inputs < 1:
            raise ValueError("max_batch, verify_attempts and min_inputs must be at least 1")
        if not (self.party_timeout_seconds > 0 and self.health_timeout_seconds > 0):
            raise ValueError("party_timeout_seconds and health_timeout_seconds must be positive")
        self.mpc_deadline().check()

    def mpc_deadline(self) -> MPCDeadline:
        return MPCDeadline(self.mpc_timeout_seconds, self.mpc_seconds_per_submission,
                           self.mpc_seconds_per_input, self.mpc_timeout_max_seconds)

    def provider_party_urls(self) -> list[str]:
        return self.public_party_urls or self.parties


def check_party_tokens(tokens: list[str]) -> None:
    """Three long, pairwise distinct tokens: equal ones would let one operator act at another party."""
    if len(tokens) != 3:
        raise ValueError(f"party_tokens must list three tokens, one per party in party order "
                         f"(got {len(tokens)})")
    for i, token in enumerate(tokens):
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(f"party_tokens[{i}] must be at least {MIN_TOKEN_CHARS} characters "
                             f"(got {len(token)})")
    if len(set(tokens)) != len(tokens):
        raise ValueError("party_tokens must be three distinct tokens: a token shared by two "
                         "parties lets either party's operator act at the other")
