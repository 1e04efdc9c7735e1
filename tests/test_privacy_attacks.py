"""Attacks of an adaptive consumer on the published figures (issue 16), against a real deployment on loopback.

The deployment runs the production policy (``exact_queries = "release"``, servers/party/policy.py) with a
small privacy budget (ε = 3) that each party enforces itself (servers/party/budget.py). Each test names the
attack, runs it through the coordinator's public ``POST /v1/queries`` as a consumer would, and says how
success is judged: an attack succeeds if it recovers one balance (or the count / sum of fewer than
``min_inputs`` providers) beyond what the stated DP guarantee allows.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import requests

from deployment_helpers import client, creds
from mpcstats.benchmarks import local_pool
from mpc_programs.shares.encoding import SCALE
from mpc_programs.statistics.query import parse_query
from mpcstats.local_deployment import start_local_deployment
from servers.party.policy import DEFAULT_RELEASE

pytestmark = pytest.mark.slow

PROVIDERS = 6
MIN_INPUTS = 3
BUDGET = 3.0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = start_local_deployment(tmp_path_factory.mktemp("privacy-attacks"), accounts=PROVIDERS + 1,
                               seed=16, min_inputs=MIN_INPUTS, mpc_timeout_seconds=60.0,
                               party_options={"exact_queries": "release",
                                              "privacy_budget_epsilon": BUDGET}, api_keys=3)
    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(lambda a: client(d).contribute(creds(a), timeout=180),
                                 d.accounts[:PROVIDERS]))
    assert [o.status for o in outcomes] == ["accepted"] * PROVIDERS
    yield d
    d.stop()


def ask(deployment: Any, spec: Any, key: str | None = "") -> requests.Response:
    """POST /v1/queries with the deployment's API key (``key=None``: anonymous)."""
    key = deployment.api_key if key == "" else key
    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    for _ in range(20):  # a party still finishing the previous run answers 503 busy: ask again
        response = requests.post(deployment.coordinator_url + "/v1/queries", json={"query": spec},
                                 headers=headers, timeout=300)
        if response.status_code != 503 or response.json()["error"]["code"] != "busy":
            break
        time.sleep(0.5)
    return response


def test_queries_that_spend_budget_need_an_api_key(deployment):
    """Attack: an anonymous client drains the budget. Judged: a DP query without a key, or with a
    key that is not the deployment's, is refused (401) before any party is asked — the budget is
    unchanged; anonymous readers still get the operator's exact release."""
    before = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    anonymous = ask(deployment, dp_sum("1", "123"), key=None)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "api_key_required"
    wrong = ask(deployment, dp_sum("1", "123"), key="not-a-key-of-this-deployment")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_api_key"
    after = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    assert after["epsilon_remaining"] == before["epsilon_remaining"]
    assert ask(deployment, DEFAULT_RELEASE, key=None).status_code == 200


def dp_sum(epsilon: Any, clip: str = "1000") -> dict[str, Any]:
    return {"statistics": ["count", "sum"], "privacy": {"epsilon": {"sum": epsilon}, "clip": clip}}


def test_the_cli_says_dp_or_exact_and_the_budget_left(deployment, tmp_path, capsys):
    """``mpcstats query --spec``: a DP answer is labelled with its ε and the budget left; without the
    API key the DP spec is refused (exit 1, naming --api-key); the exact release is labelled exact."""
    import json

    from mpcstats.cli import main

    spec = tmp_path / "dp.json"
    spec.write_text(json.dumps(dp_sum("0.25", "77")))
    dep = str(deployment.root / "deployment.json")
    assert main(["query", "--spec", str(spec), "--deployment", dep]) == 1
    assert "--api-key" in capsys.readouterr().err
    assert main(["query", "--spec", str(spec), "--deployment", dep, "--api-key", deployment.api_key]) == 0
    out = capsys.readouterr().out
    assert "Differentially private: sum ε=0.25" in out and "privacy budget left: ε=" in out
    assert "(total ε=0.25, δ=" in out  # the noise is sampled inside MPC: its δ is stated
    release = tmp_path / "release.json"
    release.write_text(json.dumps(DEFAULT_RELEASE))
    assert main(["query", "--spec", str(release), "--deployment", dep]) == 0
    assert "Exact release" in capsys.readouterr().out
    # the results page: the latest result's kind and the budget the parties report (polled each second)
    deadline = time.time() + 20
    while time.time() < deadline:
        page = requests.get(deployment.results_url + "/", timeout=10).text
        if 'id="budget-remaining"' in page:
            break
        time.sleep(0.5)
    assert 'id="budget-remaining"' in page and ("exact-release" in page or "epsilon-total" in page)
    served = requests.get(deployment.results_url + "/budget", timeout=10).json()
    party = requests.get(deployment.party_urls[0] + "/v1/budget", timeout=10).json()
    assert Fraction(served["epsilon_remaining"]) <= Fraction(party["epsilon_remaining"])
    assert main(["query", "--deployment", dep]) == 0  # reading the results API: kind and budget shown
    out = capsys.readouterr().out
    assert "privacy budget left: ε=" in out and ("Exact release" in out or "Differentially private" in out)


def test_quantile_interpolation_reconstruction_is_refused(deployment):
    """Attack: two exact queries of 32 quantile levels each, placed inside every gap between order
    statistics, recover all balances (a level interpolates two order statistics). Judged: the exact
    query is refused (409 exact_query_refused) by the parties; the same levels asked with ``privacy``
    are answered by the DP radix search (no interpolation: each level is one noisy-searched prefix at
    resolution 16^4 units), none of the published values is a provider's balance, and the query's ε
    is charged to every party's budget."""
    levels = [f"{(k + 0.5) / 33:.6f}" for k in range(32)]
    refused = ask(deployment, {"statistics": ["quantiles"], "quantiles": levels})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "exact_query_refused"
    before = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    with_dp = ask(deployment, {"statistics": ["quantiles"], "quantiles": levels,
                               "privacy": {"epsilon": {"quantiles": "0.5"}, "clip": "1000"}})
    assert with_dp.status_code == 200, with_dp.text
    published = {Decimal(v) for v in with_dp.json()["statistics"]["quantiles"].values()}
    balances = {Decimal(a.eth) for a in deployment.accounts[:PROVIDERS]}
    assert not published & balances
    after = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    assert Fraction(after["epsilon_remaining"]) == Fraction(before["epsilon_remaining"]) - Fraction(1, 2)


def test_min_and_max_are_not_published_exactly(deployment):
    """Attack: exact min / max (each one provider's balance). Judged: refused unless the operator lists them."""
    for stat in ("min", "max"):
        refused = ask(deployment, {"statistics": ["count", stat]})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "exact_query_refused"


def test_the_operator_release_is_published_without_min_and_max(deployment):
    """The default exact release (fixed statistics and quantile grid) is answered, min and max absent."""
    answer = ask(deployment, DEFAULT_RELEASE)
    assert answer.status_code == 200, answer.text
    stats = answer.json()["statistics"]
    assert stats["count"] == PROVIDERS and "min" not in stats and "max" not in stats
    # the same release spelled differently is the same release
    spelled = {**DEFAULT_RELEASE, "statistics": list(reversed(DEFAULT_RELEASE["statistics"]))}
    assert ask(deployment, spelled).status_code == 200


def test_complementary_filters_are_refused(deployment):
    """Attack: ``[">=", h]`` publishes n−k and its sum, so with the unfiltered sum the k < min_inputs
    balances below h follow. Judged: at this deployment an exact filter is refused outright (409);
    the MPC-side complement rule itself is judged in
    test_a_filter_whose_complement_is_below_the_minimum_publishes_nothing."""
    refused = ask(deployment, {"statistics": ["count", "sum"], "filter": [[">=", "0.000001"]]})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "exact_query_refused"


def test_averaging_repeated_dp_queries_with_epsilon_spelled_differently(deployment):
    """Attack: ask one DP sum many times, ε spelled "0.5", "0.50", "0.500", "5e-1", 0.5, and average
    the noise away. Judged: every answer is the same signed figure (the parties' persistent cache),
    so the average is that one noisy figure, and the budget is charged once (0.5)."""
    before = Fraction(requests.get(deployment.coordinator_url + "/v1/budget", timeout=30)
                      .json()["epsilon_remaining"])
    answers = [ask(deployment, dp_sum(e)) for e in ("0.5", "0.50", "0.500", "5e-1", 0.5)]
    assert [a.status_code for a in answers] == [200] * 5, answers[-1].text
    sums = {a.json()["statistics"]["sum"] for a in answers}
    signatures = {a.json()["signatures"][0]["signature"] for a in answers}
    assert len(sums) == 1 and len(signatures) == 1
    budget = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    assert Fraction(budget["epsilon_remaining"]) == before - Fraction(1, 2)
    assert len(budget["parties"]) == 3 and all("epsilon_spent" in p for p in budget["parties"])


def test_budget_exhaustion_and_differencing_by_one_provider(deployment):
    """Attack: distinct DP queries until the noise is gone, rotating three API keys, and a DP sum or
    the exact release before and after one provider joins (their difference is that provider's
    balance, plus noise for DP).
    Judged: the parties refuse the query that would take the total ε past the budget (409
    privacy_budget_exhausted) — so the privacy loss of every provider stays ≤ BUDGET, joining
    included — /v1/budget says so, and the exact release over the pool with one new provider is
    refused (409 too_few_new_providers: the default minimum is 5)."""
    spent = []
    for k, clip in enumerate(("10", "20", "30", "40", "50", "60", "70")):
        # many keys: the budget is the pool's, not a key's — rotating keys buys nothing
        answer = ask(deployment, dp_sum("1", clip), key=deployment.api_keys[k % 3])
        if answer.status_code != 200:
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"]["code"] == "privacy_budget_exhausted"
            break
        spent.append(clip)
    else:
        pytest.fail("the budget was never exhausted")
    assert 1 <= len(spent) < 7
    budget = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    for party in budget["parties"]:
        assert Fraction(party["epsilon_spent"]) <= Fraction(str(BUDGET))
    # differencing: one more provider joins; the new pool version does not get a fresh budget
    assert client(deployment).contribute(creds(deployment.accounts[PROVIDERS]), timeout=180).status \
        == "accepted"
    after = ask(deployment, dp_sum("1", "10"))
    assert after.status_code == 409 and after.json()["error"]["code"] == "privacy_budget_exhausted"
    # ... nor a fresh exact release: one new provider is fewer than exact_release_min_new_providers
    exact = ask(deployment, DEFAULT_RELEASE)
    assert exact.status_code == 409 and exact.json()["error"]["code"] == "too_few_new_providers"
    budget = requests.get(deployment.coordinator_url + "/v1/budget", timeout=30).json()
    assert all(p["pool"]["n"] == PROVIDERS + 1 for p in budget["parties"])


def test_a_filter_whose_complement_is_below_the_minimum_publishes_nothing(tmp_path):
    """Attack (MPC side, any policy): a filter matching all but k < min_inputs inputs. Judged: the
    parties withhold every figure, the count included; with k ≥ min_inputs they publish."""
    rng = random.Random(16)
    units = {f"p{i}": rng.randrange(1, 50) * SCALE for i in range(10)}
    stores = local_pool.store_paths(tmp_path)
    local_pool.ingest(stores, local_pool.share_pool(units), tmp_path)
    values = sorted(units.values())
    above_smallest = str(Decimal(values[0] + 1) / SCALE)  # matches 9, complement 1
    spec = {"statistics": ["count", "sum"], "filter": [[">=", above_smallest]]}
    withheld = local_pool.statistics(stores, parse_query(spec), tmp_path, min_inputs=3)[0]
    assert withheld["statistics"]["count"] is None and withheld["statistics"]["sum"] is None
    assert "complement" in withheld["statistics"]["no_inputs"]
    middle = str(Decimal(values[4] + 1) / SCALE)  # 5 below, complement ≥ 3
    spec = {"statistics": ["count"], "filter": [[">=", middle]]}
    published = local_pool.statistics(stores, parse_query(spec), tmp_path, min_inputs=3)[0]
    assert published["statistics"]["count"] == sum(1 for v in values if v >= values[4] + 1)
