"""After a real run, no server's data directory or log holds a provider's secret.

Searched for, per provider: the plaintext balance (as the decimal string, the integer
number of units, and their hex and base64 forms), the exchange API key and secret,
and the record's AES key (hex and base64) — in every file under the deployment's
directory that a server writes (stores, configs, logs), excluding the simulator's
own account file (the simulated exchange is the one place that must know them).
"""

import base64

import pytest

from mpc_programs.shares.encoding import to_units
from mpcstats.local_deployment import start_local_deployment
from provider_app.client import DeploymentConfig, ProviderClient
from tlsn import Credentials

pytestmark = pytest.mark.slow


def needles(account, aes_key: bytes) -> dict[str, bytes]:
    units = to_units(account.eth)
    out = {
        "balance": account.eth.encode(),
        "units": str(units).encode(),
        "units-hex": format(units, "x").encode(),
        "api key": account.api_key.encode(),
        "api secret": account.secret.encode(),
        "aes key hex": aes_key.hex().encode(),
        "aes key b64": base64.b64encode(aes_key).rstrip(b"="),
        "units-b64": base64.b64encode(units.to_bytes(8, "big")).rstrip(b"="),
    }
    return out


def test_no_secret_in_any_server_file_or_log(tmp_path):
    deployment = start_local_deployment(tmp_path / "dep", accounts=5, seed=11)
    try:
        config = DeploymentConfig.from_dict(deployment.provider_config())
        secrets_by_provider = {}
        for account in deployment.accounts:
            client = ProviderClient(config)
            notarized = client.notarize(Credentials(account.api_key, account.secret))
            registration = client.register(notarized)
            client.share(notarized, registration)
            assert client.wait(registration, timeout=120)["status"] == "accepted"
            secrets_by_provider[account.uid] = needles(account, notarized.session.server_write_key)
        import requests
        # Order statistics of 5 inputs *are* inputs, and publishing them is a choice the
        # query makes (the minimum pool size guards it); this run publishes aggregates only.
        query = {"statistics": ["count", "sum", "mean", "variance", "stdev"]}
        assert requests.post(deployment.coordinator_url + "/v1/queries", json={"query": query},
                             timeout=120).status_code == 200
    finally:
        deployment.stop()
    skip = {deployment.root / "exchange_accounts.json"}
    files = [p for p in deployment.root.rglob("*") if p.is_file() and p not in skip]
    assert any(p.name == "shares.json" for p in files) and any(p.suffix == ".log" for p in files)
    found = []
    for path in files:
        data = path.read_bytes()
        for uid, needles_ in secrets_by_provider.items():
            for what, needle in needles_.items():
                if len(needle) >= 6 and needle in data:
                    found.append(f"{what} of provider {uid} in {path.relative_to(deployment.root)}")
    assert not found, "\n".join(found)
