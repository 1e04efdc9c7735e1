"""What the tests that run a whole local deployment do again and again: build a provider
client for it, contribute one simulated account, read the three parties' input counts."""

from __future__ import annotations

import requests

from provider_app.client import DeploymentConfig, ProviderClient
from provider_app.errors import ContributionError
from tlsn import Credentials


def client(deployment, cls: type[ProviderClient] = ProviderClient) -> ProviderClient:
    return cls(DeploymentConfig.from_dict(deployment.provider_config()))


def creds(account) -> Credentials:
    return Credentials(account.api_key, account.secret)


def contribute(deployment, i: int, timeout: float = 120.0) -> str:
    """Account i's whole contribution: its final status, or "code: detail" if it failed."""
    try:
        return client(deployment).contribute(creds(deployment.accounts[i]), timeout=timeout).status
    except ContributionError as exc:
        return f"{exc.code}: {exc.detail}"


def party_inputs(deployment) -> list[int]:
    """How many inputs each of the three parties has counted."""
    return [requests.get(u + "/health", timeout=5).json()["inputs"] for u in deployment.party_urls]


def dealt_submission(checked, dealt, pid: int) -> dict:  # type: ignore[no-untyped-def]
    """Party ``pid``'s verify-job document for a checked registration and the provider's dealing
    (``ProviderClient.dealing``): what the party server builds from the upload."""
    from mpc_programs.shares.dealing import LAYOUT, encode_elements
    from mpc_programs.shares.store import encode_row

    rows = dealt.rows[pid]
    keys = {name: encode_elements(rows[name]) for name in checked.dealt_rows
            if name in rows and name != LAYOUT and name not in checked.extra_columns}
    extra = {name: encode_row(rows[name]) for name in checked.extra_columns}
    return checked.submission(encode_row(rows[LAYOUT]), extra, keys, dealt.parts[pid])


def as_notarized(result) -> "Notarized":  # type: ignore[no-untyped-def]
    """A notary client's result as the provider app holds it (it carries the dealing)."""
    from provider_app.client import Notarized

    return Notarized(result.session, result.attestation, result.bytes_relayed)
