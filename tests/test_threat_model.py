"""Claims of docs/threat-model.md that no other test shows: what leaks by design, and one open gap.

These tests pin down leaks the design accepts, so that the document and the system cannot drift
apart silently; the open gap is an ``xfail(strict=True)`` test that starts failing (XPASS) once the
parties enforce their own rule, which is the moment to update the document.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tlsn_fixtures import notarize

from mpc_programs.verification import gf256
from mpcstats.local_deployment import SOURCE, start_local_deployment
from provider_app.client import ContributionError, DeploymentConfig, Notarized, ProviderClient, Registration
from servers.common.serve import serve_in_thread
from servers.common.registration import input_id_for
from servers.exchange_sim.accounts import SimAccount
from servers.exchange_sim.server import start_exchange_sim
from tlsn import Credentials

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    references = set(re.findall(r"(tests/test_\w+\.py)::(test_\w+)", text))
    assert len(references) > 50
    missing = [f"{f}::{t}" for f, t in sorted(references)
               if not (ROOT / f).is_file()
               or not re.search(rf"^(async )?def {t}\(", (ROOT / f).read_text(), re.MULTILINE)]
    assert not missing, missing


def _control_token(deployment, party: int) -> str:
    """The token the coordinator presents to ``party`` (that party's own; the others refuse it)."""
    return tomllib.loads((deployment.root / f"party{party}.toml").read_text())["party"]["control_token"]


def _account(uid: int, eth: str) -> SimAccount:
    return SimAccount(uid, f"k{uid}".ljust(64, "k"), f"s{uid}".ljust(64, "s"), {"BTC": "1.00000000", "ETH": eth, "USDT": "5.00000000"})


def test_record_length_shows_the_number_of_balance_digits_to_the_notary(test_ca, notary_factory) -> None:
    small, large = _account(100000001, "1.00000000"), _account(100000002, "100.00000000")
    with start_exchange_sim([small, large], ca=test_ca) as exchange:
        notary = notary_factory(exchange)
        lengths = []
        for account in (small, large):
            result = notarize(notary, exchange, account)
            # the lengths the notary saw and signed, of every record the response spans (the
            # full-size response fills 16 KB records, so the difference shows in the last one)
            total = 0
            for record in result.session.records:
                entry = result.attestation.attestation.record("s2c", record.index)
                assert entry is not None
                total += int(entry.header[6:10], 16)
            lengths.append(total)
    assert lengths[1] - lengths[0] == 2  # two more digits, two more ciphertext bytes


def test_provider_refuses_party_urls_it_was_not_configured_with(test_ca, notary_factory) -> None:
    """A dishonest coordinator names one server it runs as all three parties and collects every share."""
    received: list[dict[str, Any]] = []

    async def collect(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"status": "ok"})

    collector = serve_in_thread(Starlette(routes=[Route("/{path:path}", collect, methods=["POST"])]))
    account = _account(100000003, "42.00000000")
    try:
        with start_exchange_sim([account], ca=test_ca) as exchange:
            result = notarize(notary_factory(exchange), exchange, account)
        notarized = Notarized(result.session, result.attestation, result.bytes_relayed)
        client = ProviderClient(DeploymentConfig(collector.url, "http://127.0.0.1:9"))
        registration = Registration("0" * 32, "token", [collector.url + "/p0", collector.url + "/p1",
                                                         collector.url + "/p2"],
                                    len(notarized.session.server_write_key), time.time() + 60)
        try:
            client.share(notarized, registration)
        except ContributionError:
            pass
    finally:
        collector.stop()
    shares = [r["key_share"] for r in received if "key_share" in r]
    if len(shares) >= 2:
        key = gf256.shamir_recombine([1, 2], [np.array(shares[0], dtype=np.uint8),
                                              np.array(shares[1], dtype=np.uint8)])
        assert bytes(key.tolist()) != notarized.session.server_write_key, "the record key was collected"
    assert len(shares) <= 1


# -- a real deployment -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = start_local_deployment(tmp_path_factory.mktemp("threat-model"), accounts=3, seed=8,
                               mpc_timeout_seconds=60.0, min_inputs=2)
    yield d
    d.stop()


def _contribute(deployment: Any, account: SimAccount) -> None:
    client = ProviderClient(DeploymentConfig.from_dict(deployment.provider_config()))
    outcome = client.contribute(Credentials(account.api_key, account.secret), timeout=120)
    assert outcome.status == "accepted"


def _query(deployment: Any, query: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": query}, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def two_results(deployment: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The published results before and after the third provider joined."""
    for account in deployment.accounts[:2]:
        _contribute(deployment, account)
    before = _query(deployment)
    _contribute(deployment, deployment.accounts[2])
    return before, _query(deployment)


@pytest.mark.slow
def test_min_max_and_the_median_of_an_odd_pool_are_inputs(deployment, two_results) -> None:
    statistics = two_results[1]["statistics"]
    balances = sorted(Decimal(a.eth) for a in deployment.accounts)
    assert Decimal(statistics["min"]) == balances[0]
    assert Decimal(statistics["max"]) == balances[-1]
    assert Decimal(statistics["median"]) == balances[1]  # the order statistic itself


@pytest.mark.slow
def test_consecutive_results_reveal_the_balance_of_a_single_joiner(deployment, two_results) -> None:
    before, after = two_results
    assert after["n"] - before["n"] == 1
    joined = Decimal(after["statistics"]["sum"]) - Decimal(before["statistics"]["sum"])
    assert joined == Decimal(deployment.accounts[2].eth)  # exact: no noise on published sums yet


@pytest.mark.slow
def test_a_filtered_count_is_withheld_below_min_inputs(deployment, two_results) -> None:
    """min_inputs (2 here) withholds everything of a narrow filter, its count included: counts over
    thresholds chosen by a consumer would otherwise locate every balance (the pool's multiset)."""
    balances = sorted(Decimal(a.eth) for a in deployment.accounts)
    threshold = str(((balances[0] + balances[1]) / 2).quantize(Decimal("0.00000001")))
    below = _query(deployment, {"statistics": ["count", "mean"], "filter": [["<", threshold]]})
    assert below["statistics"]["count"] is None  # one balance lies below: not even that is said
    assert below["statistics"]["mean"] is None
    assert "fewer than 2 inputs match" in below["statistics"]["no_inputs"]


@pytest.mark.slow
def test_a_party_refuses_a_forged_registration_even_from_the_coordinator(deployment, two_results) -> None:
    """Parties trust no other server's word: each checks the attestation itself."""
    client = ProviderClient(DeploymentConfig.from_dict(deployment.provider_config()))
    account = deployment.accounts[1]
    document = client.registration_document(client.notarize(Credentials(account.api_key, account.secret)))
    document["attestation"]["attestation"]["server_name"] = "evil.example"  # breaks the signature
    for i, url in enumerate(deployment.party_urls):
        response = requests.post(url + "/v1/sessions", json={
            "session_id": secrets.token_hex(16), "token_sha256": "0" * 64, "registration": document},
            headers={"Authorization": f"Bearer {_control_token(deployment, i)}"}, timeout=10)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "attestation_bad_signature"


@pytest.mark.slow
def test_parties_refuse_a_query_narrowed_to_one_input(deployment, two_results) -> None:
    """A coordinator (or whoever holds its party tokens) asks the parties for statistics over one input."""
    target = deployment.accounts[0]
    body = {"run_id": "narrow-" + secrets.token_hex(6), "query": None,
            "input_ids": [input_id_for(SOURCE, str(target.uid))], "min_inputs": 1,
            "computed_at": int(time.time())}

    def ask(i: int) -> requests.Response:
        return requests.post(deployment.party_urls[i] + "/v1/query", json=body,
                             headers={"Authorization": f"Bearer {_control_token(deployment, i)}"},
                             timeout=120)

    with ThreadPoolExecutor(3) as pool:  # all three at once, as the coordinator does
        answers = list(pool.map(ask, range(3)))
    computed = [a for a in answers if a.status_code == 200]
    if len(computed) == 3:
        mean = Decimal(json.loads(computed[0].text)["result"]["statistics"]["mean"])
        assert mean != Decimal(target.eth), "the parties computed and signed one provider's balance"
    assert all(400 <= a.status_code < 500 for a in answers)
