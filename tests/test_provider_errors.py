"""A provider is told the real cause of a failure, with a next step that helps — and never a traceback:
an untrusted exchange certificate (at the provider or at the notary) is not "try again later", and a
missing or incomplete deployment file names the file and the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tlsn_fixtures import HOST, ca_roots, credentials

from provider_app.client import DeploymentConfig, ProviderClient
from provider_app.errors import ContributionError
from servers.exchange_sim.certs import ExchangeCA

ROOT = Path(__file__).resolve().parents[1]


def _client(notary_url: str, ca_file: str | None) -> ProviderClient:
    return ProviderClient(DeploymentConfig(coordinator_url="http://127.0.0.1:9", notary_url=notary_url,
                                           exchange_host=HOST, exchange_ca_file=ca_file,
                                           party_urls=[f"http://127.0.0.1:{p}" for p in (10, 11, 12)]))


def test_an_exchange_certificate_the_provider_does_not_trust_is_named(
        exchange_tls13, notary_factory, sim_accounts) -> None:
    notary = notary_factory(exchange_tls13)
    with pytest.raises(ContributionError) as err:
        _client(notary.url, None).notarize(credentials(sim_accounts[0]))  # no exchange_ca_file
    assert err.value.code == "exchange_untrusted"
    assert "does not trust the exchange's certificate" in err.value.sentence
    assert "Retrying will not help" in err.value.next_step and "exchange_ca_file" in err.value.next_step


def test_an_exchange_certificate_the_notary_does_not_trust_is_named(
        exchange_tls13, notary_factory, sim_accounts, test_ca, tmp_path) -> None:
    notary = notary_factory(exchange_tls13, roots=ca_roots(ExchangeCA()))  # another CA
    test_ca.write_cert(tmp_path / "ca.pem")
    with pytest.raises(ContributionError) as err:
        _client(notary.url, str(tmp_path / "ca.pem")).notarize(credentials(sim_accounts[0]))
    assert err.value.code == "exchange_untrusted_by_notary"
    assert "trust_roots" in err.value.next_step


def _provide(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPCSTATS_API_KEY": "k", "MPCSTATS_API_SECRET": "s"}
    return subprocess.run([sys.executable, "-m", "mpcstats.cli", "provide", "--deployment", str(path), "--yes"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


@pytest.mark.parametrize("content,expected", [
    (None, "cannot read"),
    ("{not json", "is not valid JSON"),
    ({"notary_url": "http://127.0.0.1:1", "party_urls": ["http://a", "http://b", "http://c"]},
     "coordinator_url is missing"),
    ({"coordinator_url": "http://127.0.0.1:1", "notary_url": "http://127.0.0.1:2"}, "party_urls is missing"),
    ({"provider": {"coordinator_url": "http://127.0.0.1:1", "notary_url": "http://127.0.0.1:2",
                   "party_urls": ["http://a", "http://b", "http://c"], "sorce": "binance_eth"}}, "sorce"),
    ({"coordinator_url": "http://127.0.0.1:1", "notary_url": "http://127.0.0.1:2", "source": "nope",
      "party_urls": ["http://a", "http://b", "http://c"]}, "nope"),
    ({"coordinator_url": "http://127.0.0.1:1", "notary_url": "http://127.0.0.1:2",
      "party_urls": ["http://a", "http://b", "http://c"], "exchange_ca_file": "/no/such/ca.pem"},
     "exchange_ca_file /no/such/ca.pem does not exist"),
])
def test_provide_names_what_is_wrong_with_the_deployment_file(tmp_path: Path, content, expected) -> None:
    path = tmp_path / "provider.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    done = _provide(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bad deployment file" in done.stderr and expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_registration_waiting_for_a_party_that_is_down_is_told_so_within_seconds(monkeypatch) -> None:
    """The coordinator's status names the outage (``waiting_for``); the provider stops watching after
    OUTAGE_PATIENCE_SECONDS with that cause, instead of waiting out its whole timeout."""
    import provider_app.client as client_module
    from provider_app.client import Registration

    monkeypatch.setattr(client_module, "OUTAGE_PATIENCE_SECONDS", 0.3)
    client = _client("http://127.0.0.1:9", None)
    outage = "party 1 (http://127.0.0.5:8200) is unreachable: connection refused"
    monkeypatch.setattr(client, "status", lambda registration: {"status": "queued", "waiting_for": outage})
    registration = Registration("s", "t", [], 16, 0.0)
    with pytest.raises(ContributionError) as err:
        client.wait(registration, timeout=600, interval=0.05)
    assert err.value.code == "waiting_for_party" and err.value.detail == outage
    assert "Nothing is lost" in err.value.next_step


@pytest.mark.parametrize("reason, code", [
    ("inconsistent shares", "shares_disputed"),
    ("the provider dealt shares that do not match its commitments", "shares_faulty"),
    ("already stored", "already_counted"),
    ("the record does not authenticate", "rejected"),
])
def test_a_rejection_for_inconsistent_shares_tells_the_provider_a_party_may_have_misbehaved(
        reason: str, code: str) -> None:
    """This client deals consistently, so "inconsistent shares" is a party's (or the network's)
    doing for its user: the parties cannot tell it from a faulty provider, the provider can."""
    from provider_app.client import final_error

    error = final_error({"status": "rejected", "reason": reason})
    assert error.code == code and reason in str(error)
    if code == "shares_disputed":
        assert "report" in error.next_step and "misbehaved" in error.next_step
