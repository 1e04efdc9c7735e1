"""The privacy budget each party enforces itself (servers/party/budget.py), at one party's real HTTP API.

The MPC child is replaced by a stub that counts its runs and answers a fresh "noisy" sum each time, so
these tests judge the party's own bookkeeping: what it spends, what it refuses, what it answers from
its cache, and that all of it survives a restart. The attack tests on a real three-party deployment
are in ``test_privacy_attacks.py``.
"""

from __future__ import annotations

import itertools
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mpc_programs.statistics.query import canonical_key, parse_query
from mpc_programs.shares.store import ShareStore
from mpc_programs.shares.field import SHARES_PER_INPUT
from servers.party.app import create_app
from servers.party.budget import LEDGER_FILE
from servers.party.config import PartyConfig
from tlsn import NotaryKey, public_key_b64

TOKEN = "t" * 32
IDS = [f"binance_eth:{i:040x}" for i in range(12)]


def _config(tmp_path: Path, budget: float = 3.0, **extra: Any) -> PartyConfig:
    return PartyConfig(index=0, data_dir=tmp_path, mpc_peers=["127.0.0.1:1"] * 3,
                       control_token=TOKEN, notary_keys=[public_key_b64(NotaryKey.generate().public_key)],
                       min_inputs=10, privacy_budget_epsilon=budget, mpc_ssl_dir=tmp_path, **extra)


def _party(tmp_path: Path, budget: float = 3.0, **extra: Any) -> tuple[TestClient, list[dict[str, Any]]]:
    app: Any = create_app(_config(tmp_path, budget, **extra))
    with ShareStore(app.state.party.mpc.store_path, 0) as store:
        if store.count() == 0:
            store.add_many({i: [1] * SHARES_PER_INPUT for i in IDS})
    runs: list[dict[str, Any]] = []
    noise = itertools.count(100)

    async def fake_run(job: dict[str, Any]) -> dict[str, Any]:
        runs.append(job)
        return {"query": job["query"], "n": len(job["input_ids"]), "input_digest": "d",
                "statistics": {"count": len(job["input_ids"]), "sum": str(next(noise))}}

    app.state.party.mpc.run = fake_run
    return TestClient(app), runs


def _ask(client: TestClient, epsilon: str, **extra: Any) -> Any:
    query = {"statistics": ["count", "sum"], "privacy": {"epsilon": {"sum": epsilon}, "clip": "8"},
             **extra}
    return client.post("/v1/query", json={"run_id": "run-" + secrets.token_hex(4), "query": query,
                                          "input_ids": IDS}, headers={"authorization": f"Bearer {TOKEN}"})


def test_epsilon_is_a_number_not_a_string():
    """Judged by the canonical key: every spelling of one number is one query."""
    keys = {canonical_key(parse_query({"statistics": ["sum"], "privacy": {"epsilon": {"sum": e},
                                                                          "clip": c}}))
            for e in ("1", "1.0", "1.00", "1e0", 1, 1.0) for c in ("8", "8.000")}
    assert len(keys) == 1
    assert parse_query({"statistics": ["sum"], "privacy": {"epsilon": {"sum": "1.00"},
                                                          "clip": "8.0"}}).privacy.to_json() \
        == {"epsilon": {"sum": "1"}, "clip": "8"}


def test_an_identical_query_is_answered_from_the_cache_without_spending(tmp_path):
    """Judged by the stub's run count and the public ledger: one MPC run, one spend, same answer."""
    client, runs = _party(tmp_path)
    answers = [_ask(client, e) for e in ("1", "1.0", "1.00", "1E0")]
    assert [a.status_code for a in answers] == [200] * 4
    assert len(runs) == 1  # no fresh noise to average
    assert len({a.json()["result"]["statistics"]["sum"] for a in answers}) == 1
    assert all(a.json().get("cached") for a in answers[1:])
    budget = client.get("/v1/budget").json()
    assert (budget["epsilon_spent"], budget["epsilon_remaining"], budget["epsilon_budget"]) \
        == ("1", "2", "3")
    assert budget["pool"]["n"] == len(IDS) and budget["versions"][0]["queries"] == 1


def test_queries_compose_and_the_one_exceeding_the_budget_is_refused(tmp_path):
    """Judged by HTTP status and code: the third distinct query (ε 1+1.5+1 > 3) is refused before any MPC."""
    client, runs = _party(tmp_path)
    assert _ask(client, "1").status_code == 200
    assert _ask(client, "1.5").status_code == 200
    refused = _ask(client, "1")  # identical to the first: still served from the cache
    assert refused.status_code == 200 and len(runs) == 2
    refused = _ask(client, "0.75")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "privacy_budget_exhausted"
    assert "0.5 left of 3" in refused.json()["error"]["message"]
    assert len(runs) == 2
    assert _ask(client, "0.5").status_code == 200  # exactly what is left
    assert client.get("/v1/budget").json()["epsilon_remaining"] == "0"


def test_the_ledger_and_the_cache_survive_a_restart(tmp_path):
    """Judged by a second party process over the same data dir: the spend and the cached answer persist."""
    client, runs = _party(tmp_path)
    first = _ask(client, "2").json()
    client.close()
    client, runs = _party(tmp_path)
    again = _ask(client, "2.0")
    assert again.status_code == 200 and runs == []
    assert again.json()["signature"] == first["signature"]
    assert _ask(client, "1.5").json()["error"]["code"] == "privacy_budget_exhausted"
    ledger = json.loads((tmp_path / LEDGER_FILE).read_text())
    assert [s["epsilon"] for s in ledger["spends"]] == ["2"]


def test_a_new_pool_version_keeps_the_spent_budget(tmp_path):
    """A provider joining opens a new pool version; the old providers' loss still counts (composition)."""
    client, runs = _party(tmp_path)
    assert _ask(client, "2").status_code == 200
    extra = "binance_eth:" + "f" * 40
    with ShareStore(client.app.state.party.mpc.store_path, 0) as store:  # type: ignore[attr-defined]
        store.add_many({extra: [1] * SHARES_PER_INPUT})
    query = {"statistics": ["count", "sum"], "privacy": {"epsilon": {"sum": "2"}, "clip": "8"}}
    again = client.post("/v1/query", json={"run_id": "run-after-join", "query": query,
                                           "input_ids": IDS + [extra]},
                        headers={"authorization": f"Bearer {TOKEN}"})
    assert again.json()["error"]["code"] == "privacy_budget_exhausted"  # not a fresh cache hit
    budget = client.get("/v1/budget").json()
    assert budget["pool"]["n"] == len(IDS) + 1 and budget["epsilon_remaining"] == "1"


@pytest.mark.parametrize("value", [0, -1.0])
def test_a_non_positive_budget_is_a_config_error(tmp_path, value):
    with pytest.raises(ValueError, match="privacy_budget_epsilon"):
        _config(tmp_path, value).validate()


def _exact(client: TestClient, ids: list[str], spec: Any = None) -> Any:
    from servers.party.policy import DEFAULT_RELEASE
    return client.post("/v1/query", json={"run_id": "run-" + secrets.token_hex(4),
                                          "query": spec or DEFAULT_RELEASE, "input_ids": ids},
                       headers={"authorization": f"Bearer {TOKEN}"})


def test_exact_queries_only_for_the_release_and_only_with_enough_new_providers(tmp_path):
    """Judged by status and code: another exact query is refused; the release is answered once per
    pool (then from the cache); after 1 new provider it is refused, after 5 it runs again."""
    client, runs = _party(tmp_path)
    other = _exact(client, IDS, {"statistics": ["count", "max"]})
    assert other.status_code == 409 and other.json()["error"]["code"] == "exact_query_refused"
    assert _exact(client, IDS).status_code == 200 and _exact(client, IDS).status_code == 200
    assert len(runs) == 1
    store_path = client.app.state.party.mpc.store_path  # type: ignore[attr-defined]
    grown = list(IDS)
    for k in range(5):
        grown.append(f"binance_eth:{0xabc0 + k:040x}")
        with ShareStore(store_path, 0) as store:
            store.add_many({grown[-1]: [1] * SHARES_PER_INPUT})
        answer = _exact(client, grown)
        if k < 4:
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"]["code"] == "too_few_new_providers"
    assert answer.status_code == 200 and len(runs) == 2
    assert client.get("/v1/budget").json()["last_exact_release"]["n"] == len(IDS) + 5


def test_each_api_key_has_its_own_rate_limit():
    """Judged by status: a key over its burst gets 429 while another key still gets through."""
    from servers.common.errors import RateLimited, Unauthorized
    from servers.coordinator.api_keys import ApiKeys, key_hash

    class FakeRequest:
        def __init__(self, key: str | None) -> None:
            self.headers = {"authorization": f"Bearer {key}"} if key else {}

    keys = ApiKeys({"a": key_hash("alpha"), "b": key_hash("beta")}, rate=0.001, burst=2)
    assert [keys.require(FakeRequest("alpha")) for _ in range(2)] == ["a", "a"]  # type: ignore[arg-type]
    with pytest.raises(RateLimited):
        keys.require(FakeRequest("alpha"))  # type: ignore[arg-type]
    assert keys.require(FakeRequest("beta")) == "b"  # type: ignore[arg-type]
    for bad in (None, "gamma"):
        with pytest.raises(Unauthorized):
            keys.require(FakeRequest(bad))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SHA-256"):
        ApiKeys({"a": "alpha"}, 1, 1)


def test_a_column_clipping_bound_set_by_the_operator_is_the_only_clip(tmp_path):
    """Judged by status: with dp_clip balance = 1000 a DP sum clipped at 8 is refused before any ε is
    spent; clipped at "1000.0" it runs; the bound is public in GET /v1/budget."""
    client, runs = _party(tmp_path, dp_clip={"balance": "1000"})
    refused = _ask(client, "1")  # clip 8
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "clip_not_allowed"
    assert client.get("/v1/budget").json()["epsilon_spent"] == "0" and runs == []
    query = {"statistics": ["count", "sum"], "privacy": {"epsilon": {"sum": "1"}, "clip": "1000.0"}}
    ok = client.post("/v1/query", json={"run_id": "run-clip-ok", "query": query, "input_ids": IDS},
                     headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and client.get("/v1/budget").json()["dp_clip"] == {"balance": "1000"}
    with pytest.raises(ValueError, match="dp_clip.balance"):
        _config(tmp_path, dp_clip={"balance": "-1"}).validate()


def test_the_production_defaults_are_the_safe_ones(tmp_path):
    """A party configured with nothing but the required settings runs the policy the attack tests
    exercise: exact figures only for the default release (no min, no max), a budget, new providers
    between exact releases; DP quantiles need enough ε per rank."""
    from mpc_programs.statistics.query import QueryError
    from servers.party.policy import DEFAULT_RELEASE

    config = _config(tmp_path)
    defaults = PartyConfig(index=0, data_dir=tmp_path, mpc_peers=config.mpc_peers, control_token=TOKEN,
                           notary_keys=config.notary_keys)
    assert defaults.exact_queries == "release" and defaults.exact_releases == []
    assert defaults.privacy_budget_epsilon == 10.0 and defaults.exact_release_min_new_providers == 5
    assert "min" not in DEFAULT_RELEASE["statistics"] and "max" not in DEFAULT_RELEASE["statistics"]
    with pytest.raises(QueryError, match="split over 32 ranks"):
        parse_query({"statistics": ["quantiles"], "quantiles": [str(k / 100) for k in range(1, 33)],
                     "privacy": {"epsilon": {"quantiles": "0.003"}, "clip": "1"}})


def test_a_damaged_ledger_stops_the_party_instead_of_resetting_the_budget(tmp_path):
    (tmp_path / LEDGER_FILE).write_text("{not json")
    with pytest.raises(RuntimeError, match="privacy ledger"):
        create_app(_config(tmp_path))
