"""Several columns per input: a row of values per input id, missing values as a state of
their own, statistics of any column, filters that join columns — 3 real party processes,
checked against the plaintext of the same table."""

import json
import random
import statistics as pystats
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from mpcstats.benchmarks import local_pool
from mpc_programs.statistics import plaintext, results
from mpc_programs.shares.encoding import MAX_UNITS, SCALE
from mpc_programs.statistics.query import parse_query
from mpc_programs.runtime.runner import MPCRunError
from mpc_programs.shares.sharing import share_units
from mpc_programs.shares.store import ShareStore, StoreError, decode_row, encode_row

COLUMNS = ["balance", "btc"]


def run(pool, spec: dict) -> dict:
    workdir, stores, _ = pool
    outcomes = local_pool.statistics(stores, parse_query(spec, COLUMNS), workdir,
                                     columns=COLUMNS)
    return outcomes[0]["statistics"]


def table_of(balances: list[int], btc: list[int | None]) -> list[dict[str, int]]:
    return [{"balance": b} | ({"btc": c} if c is not None else {})
            for b, c in zip(balances, btc, strict=True)]


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("columns")
    rng = random.Random(21)
    balances = [rng.randrange(10**11) for _ in range(30)] + [0, 10**8, 10**8, MAX_UNITS]
    # btc: missing for every 5th input, a tie, a zero, and the largest value
    btc: list[int | None] = [None if i % 5 == 0 else b // 20 + rng.randrange(10**7)
                             for i, b in enumerate(balances)]
    btc[1] = btc[2] = 5 * 10**7
    btc[3] = 0
    btc[-1] = MAX_UNITS
    ids = [f"in{i:03d}" for i in range(len(balances))]
    stores = local_pool.store_paths(workdir)
    extra = {i: {"btc": c} for i, c in zip(ids, btc, strict=True) if c is not None}
    outcome = local_pool.ingest(stores, local_pool.share_pool(dict(zip(ids, balances))), workdir,
                                pending_columns=local_pool.share_columns(extra))
    assert outcome["accepted"] == ids and outcome["rejected"] == {}
    return workdir, stores, table_of(balances, btc)


def test_statistics_of_the_second_column_skip_the_missing_values(pool):
    table = pool[2]
    spec = {"statistics": ["count", "sum", "mean", "variance", "min", "max", "median"],
            "column": "btc"}
    stats = run(pool, spec)
    present = [row["btc"] for row in table if "btc" in row]
    assert stats["count"] == len(present) < len(table)
    want = pystats.mean([Fraction(v, SCALE) for v in present])
    assert abs(Fraction(Decimal(stats["mean"])) - want) / want < Fraction(1, 10**45)
    assert stats == plaintext.table_statistics(parse_query(spec), table)


def test_a_filter_on_one_column_selects_the_inputs_of_another(pool):
    table = pool[2]
    spec = {"statistics": ["count", "mean", "median", "histogram"],
            "filter": [["btc", ">=", "0.5"], [">", "0"]], "histogram_edges": ["1", "100"]}
    stats = run(pool, spec)
    kept = [row["balance"] for row in table
            if "btc" in row and row["btc"] >= SCALE // 2 and row["balance"] > 0]
    assert 0 < stats["count"] == len(kept)
    assert Fraction(Decimal(stats["median"])) == pystats.median(
        [Fraction(v, SCALE) for v in kept])
    assert stats == plaintext.table_statistics(parse_query(spec), table)


def test_a_missing_value_never_matches_a_filter(pool):
    table = pool[2]
    # "btc < 1e-8" matches only a btc of exactly 0: the missing ones do not count as 0
    spec = {"statistics": ["count", "sum"], "filter": [["btc", "<", "0.00000001"]]}
    stats = run(pool, spec)
    assert stats["count"] == sum(1 for row in table if row.get("btc") == 0) == 1
    assert stats == plaintext.table_statistics(parse_query(spec), table)


def test_an_unknown_column_fails_before_any_statistic(pool):
    workdir, stores, _ = pool
    with pytest.raises(MPCRunError, match="unknown column 'eth'"):
        local_pool.statistics(stores, parse_query({"column": "eth"}), workdir, columns=COLUMNS)


def test_store_rows_carry_their_columns_under_one_digest(tmp_path):
    path = tmp_path / "s.json"
    with ShareStore(path, 0) as store:
        store.add_many({"a": share_units(5)[0], "b": share_units(6)[0]},
                       {"a": {"btc": share_units(7)[0]}})
        ids, _ = store.load()
        assert ids == ["a", "b"]
        assert store.load(column="btc")[0] == ["a"]  # b's btc is missing
        assert store.load(["b"], column="btc")[0] == []
    data = json.loads(path.read_text())
    (segment,) = data["segments"].values()
    (btc,) = [c for c in segment["columns"] if c["name"] == "btc"]
    btc_file = Path(str(path) + ".segments") / segment["name"] / btc["file"]
    raw = bytearray(btc_file.read_bytes())
    raw[-1] ^= 1  # the value position of a's btc row
    btc_file.write_bytes(bytes(raw))
    with ShareStore(path, 0) as store:
        store.load()  # the primary column is intact
        with pytest.raises(StoreError, match="column 'btc', positions 240-241\\) are corrupted"):
            store.load(column="btc")


def test_a_bad_row_in_any_column_rejects_the_whole_input(tmp_path):
    stores = local_pool.store_paths(tmp_path)
    pending = local_pool.share_pool({"good": 10**8, "bad": 2 * 10**8})
    columns = local_pool.share_columns({"good": {"btc": 5}, "bad": {"btc": 7}})
    # party 1's share of bad's btc row is shifted: not a sharing of a valid encoding
    row = decode_row(columns[1]["bad"]["btc"])
    row[3] = (row[3] + 1)
    columns[1]["bad"]["btc"] = encode_row(row)
    outcome = local_pool.ingest(stores, pending, tmp_path, pending_columns=columns)
    assert outcome["accepted"] == ["good"]
    assert set(outcome["rejected"]) == {"bad"}
    with ShareStore(stores[0], 0) as store:
        assert store.ids() == ["good"]
        assert store.load(column="btc")[0] == ["good"]


def test_no_input_with_a_value_gives_no_inputs(tmp_path):
    stores = local_pool.store_paths(tmp_path)
    local_pool.ingest(stores, local_pool.share_pool({"a": 1, "b": 2}), tmp_path)
    outcomes = local_pool.statistics(stores, parse_query({"statistics": ["count", "mean"],
                                                          "column": "btc"}),
                                     tmp_path, columns=COLUMNS)
    assert outcomes[0]["statistics"] == {"count": 0, "mean": None,
                                         "no_inputs": results.NO_INPUTS}


def test_too_few_values_in_a_column_publish_nothing_but_the_reason(pool):
    workdir, stores, table = pool
    with_btc = sum(1 for row in table if "btc" in row)
    assert with_btc < 30 <= len(table)
    spec = {"statistics": ["count", "mean"], "column": "btc"}
    outcomes = local_pool.statistics(stores, parse_query(spec), workdir, columns=COLUMNS,
                                     min_inputs=30)
    assert outcomes[0]["statistics"] == {
        "count": None, "mean": None, "no_inputs": "fewer than 30 inputs have a value in btc"}
    # the primary column has a value everywhere: the same minimum lets it through
    outcomes = local_pool.statistics(stores, parse_query({"statistics": ["count"]}), workdir,
                                     columns=COLUMNS, min_inputs=30)
    assert outcomes[0]["statistics"] == {"count": len(table)}


def test_two_column_statistics_of_other_columns_than_the_primary(pool):
    # count + covariance of (btc, btc): the primary column is not loaded at all
    table = pool[2]
    spec = {"statistics": ["count", "covariance"], "columns": ["btc", "btc"]}
    stats = run(pool, spec)
    present = [Fraction(row["btc"], SCALE) for row in table if "btc" in row]
    assert stats["count"] == len(present)
    want = pystats.variance(present)  # covariance of a column with itself, to 50 digits
    assert abs(Fraction(Decimal(stats["covariance"])) - want) / want < Fraction(1, 10**45)


def test_a_differentially_private_sum_of_the_second_column(pool):
    table = pool[2]
    spec = {"statistics": ["count", "sum"], "column": "btc",
            "privacy": {"epsilon": {"sum": "10"}, "clip": "1000000000"}}
    stats = run(pool, spec)
    present = [row["btc"] for row in table if "btc" in row]
    assert stats["count"] == len(present)
    noisy = Fraction(Decimal(stats["sum"]))
    clip = 10**9 * SCALE
    truth = Fraction(sum(min(x, clip) for x in present), SCALE)  # values are clipped
    # three discrete Laplace noises of scale clip/ε = 1e8 ETH: each beyond 2e9 ETH with
    # probability e^-20
    assert abs(noisy - truth) < 6 * 10**9 and stats["privacy"]["epsilon_total"] == "10"
