"""DP covariance, correlation and linear regression (noisy clipped sufficient statistics,
``dp_stats.open_noisy_bivariate_sums``): 3 real local parties, a party's ledger, query parsing."""

from __future__ import annotations

import random
import statistics as pystats
import secrets
from decimal import Decimal
from fractions import Fraction

import pytest

from mpc_programs.statistics import dp_stats
from mpcstats.benchmarks import local_pool
from mpc_programs.shares.encoding import SCALE
from mpc_programs.statistics.query import QueryError, canonical_key, parse_query

COLUMNS = ["balance", "btc"]
BIVARIATE = ["covariance", "correlation", "linear_regression"]


def dp_spec(epsilon: str, **privacy) -> dict:
    return {"statistics": ["count", *BIVARIATE], "columns": COLUMNS,
            "privacy": {"epsilon": {"bivariate": epsilon}, "clip": "100",
                        "clip_columns": {"btc": "10"}, **privacy}}


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """N = 2000: x uniform in [0, 100) ETH, y = x/20 + uniform [0, 2) BTC (inside the clips)."""
    workdir = tmp_path_factory.mktemp("dp_bivariate")
    rng = random.Random(8)
    xs = [rng.randrange(0, 100 * SCALE) for _ in range(2000)]
    ys = [x // 20 + rng.randrange(0, 2 * SCALE) for x in xs]
    ids = [f"in{k:04d}" for k in range(len(xs))]
    stores = local_pool.store_paths(workdir)
    local_pool.ingest(stores, local_pool.share_pool(dict(zip(ids, xs))), workdir,
                      pending_columns=local_pool.share_columns(
                          {i: {"btc": y} for i, y in zip(ids, ys)}))
    return workdir, stores


def run(pool, spec: dict) -> dict:
    workdir, stores = pool
    return local_pool.statistics(stores, parse_query(spec, COLUMNS), workdir,
                                 columns=COLUMNS)[0]["statistics"]


@pytest.mark.slow
def test_dp_bivariate_is_near_the_exact_statistics_at_large_epsilon(pool):
    """Judged against the exact MPC statistics (the data lie inside the clips, so clipping changes
    nothing). At N = 2000 and ε = 10 (2 per sum), the DLap noise has scale Δ·5/ε: with three
    such noises (as each party once drew its own; one is drawn inside MPC now) the
    standard deviations of the published values are about 0.72 ETH·BTC for the covariance (≈ 42),
    0.022 for the correlation (≈ 0.93), 2% of the slope and 0.03 BTC for the intercept (≈ 1).
    The bounds below are ≥ 5 of those: a failure would be a bug, not bad luck."""
    exact = run(pool, {"statistics": BIVARIATE, "columns": COLUMNS})
    dp = run(pool, dp_spec("10"))
    assert dp["count"] == 2000
    assert abs(Decimal(dp["covariance"]) - Decimal(exact["covariance"])) < 4
    assert abs(Decimal(dp["correlation"]) - Decimal(exact["correlation"])) < Decimal("0.12")
    assert -1 <= Decimal(dp["correlation"]) <= 1
    slope, exact_slope = (Decimal(r["linear_regression"]["slope"]) for r in (dp, exact))
    assert abs(slope / exact_slope - 1) < Decimal("0.1")
    assert abs(Decimal(dp["linear_regression"]["intercept"])
               - Decimal(exact["linear_regression"]["intercept"])) < Decimal("0.3")
    assert dp["privacy"]["epsilon"] == {"bivariate": "10"}
    assert dp["privacy"]["clip_columns"] == {"btc": "10"} and dp["privacy"]["clip"] == "100"
    assert "noisy sufficient statistics" in dp["privacy"]["mechanism"]


@pytest.mark.slow
def test_dp_bivariate_noise_is_there_at_small_epsilon(pool):
    """Judged by two runs at ε = 0.5: fresh noise each time, so the published figures differ
    (the covariance's noise sd is ≈ 14 ETH·BTC here: equal twice has probability ≈ 0); a
    covariance-only query still answers (3 sums, ε/3 each)."""
    runs = [run(pool, dp_spec("0.5")) for _ in range(2)]
    assert runs[0]["covariance"] != runs[1]["covariance"]
    assert runs[0]["linear_regression"] != runs[1]["linear_regression"]
    for r in runs:
        assert r["correlation"] is None or -1 <= Decimal(r["correlation"]) <= 1
    only = run(pool, {"statistics": ["covariance"], "columns": COLUMNS,
                      "privacy": {"epsilon": {"bivariate": "0.5"}, "clip": "100",
                                  "clip_columns": {"btc": "10"}}})
    assert set(only) == {"covariance", "privacy"}


def test_post_processing_of_the_noisy_sums():
    """Exact sums in, the exact statistics out; a noisy variance <= 0 gives None, r is clamped."""
    xs, ys = [1, 2, 3, 4], [2, 4, 7, 8]
    sums = {"x": sum(xs), "y": sum(ys), "xy": sum(a * b for a, b in zip(xs, ys)),
            "xx": sum(a * a for a in xs), "yy": sum(b * b for b in ys)}
    out = dp_stats.publish_dp_bivariate(sums, 4, BIVARIATE)
    assert Fraction(Decimal(out["covariance"])) * SCALE * SCALE == Fraction(7, 2)  # units²
    assert Decimal(out["linear_regression"]["slope"]) == Decimal("2.1")
    assert abs(float(out["correlation"]) - pystats.correlation(xs, ys)) < 1e-9
    assert dp_stats.publish_dp_bivariate({**sums, "xx": 0}, 4, BIVARIATE)["linear_regression"] is None
    assert dp_stats.publish_dp_bivariate({**sums, "yy": 0}, 4, BIVARIATE)["correlation"] is None
    assert dp_stats.publish_dp_bivariate({**sums, "yy": 111}, 4, ["correlation"])["correlation"] \
        == "1.0000000000"  # noise pushed |r| above 1: clamped
    assert dp_stats.bivariate_sums(["covariance"]) == ["x", "y", "xy"]
    assert dp_stats.bivariate_sums(["linear_regression", "covariance"]) == ["x", "y", "xy", "xx"]
    assert dp_stats.bivariate_sensitivity("xy", 3, 5) == 15


@pytest.mark.parametrize("privacy,message", [
    ({"epsilon": {"bivariate": "1"}, "clip": "100"}, "clip_columns' needs a bound for column 'btc'"),
    ({"epsilon": {"bivariate": "1"}, "clip_columns": {"btc": "10"}}, "'privacy.clip'"),
    ({"epsilon": {"bivariate": "1"}, "clip": "100", "clip_columns": {"btc": "0"}}, "positive"),
    ({"epsilon": {"bivariate": "1"}, "clip": "100", "clip_columns": {"btc": "x"}}, "decimal"),
    ({"epsilon": {"bivariate": "1"}, "clip": "1", "clip_columns": {"btc": "1", "eth": "1"}},
     "'eth', which is not one of the 'columns'"),
    ({"epsilon": {"sum": "1"}, "clip": "100", "clip_columns": {"btc": "10"}}, "needs a value for"),
    ({"epsilon": {"bivariate": "0.00001"}, "clip": "1", "clip_columns": {"btc": "1"}}, "at least"),
])
def test_bad_dp_bivariate_specs_are_refused(privacy, message):
    with pytest.raises(QueryError, match=message):
        parse_query({"statistics": ["correlation"], "columns": COLUMNS, "privacy": privacy})


def test_clip_columns_only_with_a_two_column_statistic_and_spelling_is_one_query():
    with pytest.raises(QueryError, match="clip_columns"):
        parse_query({"statistics": ["sum"], "privacy": {"epsilon": {"sum": "1"}, "clip": "8",
                                                        "clip_columns": {"btc": "1"}}})
    with pytest.raises(QueryError, match="clip_columns' needs a bound for column 'balance'"):
        parse_query({"statistics": ["correlation"], "columns": COLUMNS, "column": "btc",
                     "privacy": {"epsilon": {"bivariate": "1"}, "clip": "1"}})
    keys = {canonical_key(parse_query(dp_spec(e, clip=c, clip_columns={"btc": b})))
            for e in ("1", "1.0", 1) for c in ("100", "100.00") for b in ("10", "1e1")}
    assert len(keys) == 1
    query = parse_query(dp_spec("2"))
    assert query.privacy.epsilon_total() == 2
    assert query.privacy.clip_of("btc", "balance") == "10"
    assert query.privacy.clip_of("balance", "balance") == "100"


def test_a_party_ledger_charges_epsilon_bivariate(tmp_path):
    """Judged at one party's real HTTP API (MPC stubbed, tests/test_privacy_budget.py): the DP
    correlation spends epsilon.bivariate, a respelled repeat is cached, and the operator's dp_clip
    of the second column is enforced before any ε is spent."""
    from test_privacy_budget import IDS, TOKEN, _party

    client, runs = _party(tmp_path, budget=3.0, sources=["binance_eth_btc"],
                          dp_clip={"btc": "10"})

    def ask(spec: dict):
        return client.post("/v1/query", json={"run_id": "run-" + secrets.token_hex(4),
                                              "query": spec, "input_ids": IDS},
                           headers={"authorization": f"Bearer {TOKEN}"})

    wrong = dp_spec("1")
    wrong["privacy"]["clip_columns"] = {"btc": "50"}
    refused = ask(wrong)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "clip_not_allowed"
    assert client.get("/v1/budget").json()["epsilon_spent"] == "0" and runs == []
    assert ask(dp_spec("1.5")).status_code == 200
    assert ask(dp_spec("1.50")).status_code == 200  # the same query: answered from the cache
    assert len(runs) == 1
    assert client.get("/v1/budget").json()["epsilon_spent"] == "1.5"
    over = ask(dp_spec("2"))
    assert over.status_code != 200 and len(runs) == 1
    assert client.get("/v1/budget").json()["epsilon_spent"] == "1.5"


def test_the_results_page_states_the_second_columns_clip():
    from servers.results.page import render_page
    statistics = {"count": 12, "correlation": "0.5",
                  "privacy": {"mechanism": "m", "epsilon": {"bivariate": "1"}, "epsilon_total": "1",
                              "clip": "100", "clip_columns": {"btc": "10"}}}
    html = render_page({"n": 12, "statistics": statistics, "computed_at": 1, "accepted_at": 2,
                        "parties": []})
    assert 'data-epsilon="bivariate">1<' in html and 'data-clip="btc">10<' in html
