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
