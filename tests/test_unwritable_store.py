"""A party whose data directory cannot be written (disk full, read-only mount): a clear error,
and the three stores stay consistent — an input is in all three or in none."""

import subprocess

import pytest
import requests

from mpcstats.local_deployment import start_local_deployment
from provider_app.client import DeploymentConfig, ProviderClient
from provider_app.errors import ContributionError
from tlsn import Credentials

pytestmark = pytest.mark.slow


def _immutable(path, on: bool) -> bool:
    """chattr ±i: even root cannot create, replace or rename files in an immutable directory."""
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return result.returncode == 0


def contribute(d, i) -> str:
    a = d.accounts[i]
    client = ProviderClient(DeploymentConfig.from_dict(d.provider_config()))
    try:
        return client.contribute(Credentials(a.api_key, a.secret), timeout=180).status
    except ContributionError as exc:
        return f"{exc.code}: {exc.detail}"


def stored(d) -> list[int]:
    return [requests.get(u + "/health", timeout=5).json()["inputs"] for u in d.party_urls]


def test_an_unwritable_party_store_rejects_cleanly_and_keeps_the_stores_consistent(tmp_path):
    deployment = start_local_deployment(tmp_path / "dep", accounts=3, seed=9,
                                        mpc_timeout_seconds=20)
    data_dir = deployment.root / "party2"
    try:
        assert contribute(deployment, 0) == "accepted"
        if not _immutable(data_dir, True):
            pytest.skip("chattr is not supported on this file system")
        try:
            outcome = contribute(deployment, 1)
            assert outcome.startswith("rejected"), outcome
            assert "could not run" in outcome
            assert stored(deployment) == [1, 1, 1]  # in none of the three
            log = (deployment.root / "logs" / "party2.log").read_text()
            assert "mpc_failed" in log or "Permission" in log or "not permitted" in log
        finally:
            _immutable(data_dir, False)
        # once the disk is writable again the same account is counted, everywhere
        assert contribute(deployment, 1) == "accepted"
        assert stored(deployment) == [2, 2, 2]
    finally:
        _immutable(data_dir, False)
        deployment.stop()
