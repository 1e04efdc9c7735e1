"""Query specs are validated before any MPC run."""

from decimal import Decimal

import pytest

from mpc_programs.shares.encoding import MAX_UNITS
from mpc_programs.statistics.query import QueryError, parse_query


def test_default_query_is_valid():
    q = parse_query(None)
    assert "median" in q.statistics and q.quantiles


@pytest.mark.parametrize("spec,message", [
    ([], "JSON object"),
    ({"statistics": ["mean", "mode!"]}, "unknown statistic"),
    ({"statistics": []}, "non-empty"),
    ({"quantiles": ["1.5"]}, "between 0 and 1"),
    ({"quantiles": ["abc"]}, "not a decimal"),
    ({"histogram_edges": ["2", "1"]}, "strictly increasing"),
    ({"histogram_edges": ["-1"]}, "bad histogram edge"),
    ({"colour": "red"}, "unknown query field"),
    ({"statistics": ["histogram"], "histogram_edges": []}, "no edges"),
])
def test_bad_specs_are_refused_with_a_reason(spec, message):
    with pytest.raises(QueryError, match=message):
        parse_query(spec)


@pytest.mark.parametrize("spec,message", [
    ({"statistics": ["gini", "skewness"]}, "unknown statistic 'skewness'"),
    ({"statistics": ["mode"], "histogram_edges": []}, "'mode' requested but no edges"),
    ({"filter": []}, "non-empty list"),
    ({"filter": {">": "1"}}, "non-empty list"),
    ({"filter": [[">", "1", "2"]]}, "column name"),
    ({"filter": [[">"]]}, r"\[op, value\] or \[column, op, value\]"),
    ({"statistics": ["correlation"]}, "needs 'columns'"),
    ({"statistics": ["mean"], "columns": ["balance", "btc"]}, "only for"),
    ({"statistics": ["covariance"], "columns": ["balance"]}, "two column names"),
    ({"statistics": ["covariance"], "columns": ["balance", "BTC"]}, "column name"),
    ({"column": 3}, "column name"),
    ({"statistics": ["sum"], "privacy": {"epsilon": {"sum": "1"}, "clip": "10"},
      "filter": [["btc", ">", "1"]]}, "cannot be combined with a filter"),
    ({"filter": [["=>", "1"]]}, "unknown filter operator '=>'"),
    ({"filter": [[">", "one"]]}, "not a decimal"),
    ({"filter": [[">", "-1"]]}, "negative"),
    ({"filter": [[">", "0.000000001"]]}, "decimal places"),
    ({"filter": [["<", "2000000000"]]}, "too large"),
    ({"filter": [[">", True]]}, "decimal number"),
    ({"filter": [[">", "1"]] * 9}, "at most 8"),
    ({"filter": [[">", "1e999999999"]]}, "too large"),  # no decimal.Overflow escapes
    ({"filter": [["==", "1e-999999999"]]}, "decimal places"),  # nor an underflow to 0
    ({"histogram_edges": ["1e999999999"]}, "too large"),
])
def test_bad_new_specs_are_refused_with_a_reason(spec, message):
    with pytest.raises(QueryError, match=message):
        parse_query(spec)


def test_new_statistics_are_named_but_not_default():
    q = parse_query({"statistics": ["mode", "geometric_mean", "harmonic_mean", "gini"]})
    assert q.statistics == ("mode", "geometric_mean", "harmonic_mean", "gini")
    assert "gini" not in parse_query(None).statistics  # the default stays the cheap set


@pytest.mark.parametrize("clauses,inside,outside", [
    ([[">", "1"]], [100000001, MAX_UNITS], [0, 100000000]),
    ([[">=", "1"], ["<", "2"]], [100000000, 199999999], [99999999, 200000000]),
    ([["<=", "0"]], [0], [1]),
    ([["==", "0.5"]], [50000000], [49999999, 50000001]),
    ([["!=", "0"], ["!=", "3"]], [1, 2, MAX_UNITS], [0, 300000000]),
    ([[">", "5"], ["<", "1"]], [], [0, 300000000, MAX_UNITS]),
    ([["<=", str(Decimal(MAX_UNITS) / 10**8)]], [0, MAX_UNITS], []),
])
def test_filters_reduce_to_an_interval_minus_points(clauses, inside, outside):
    filt = parse_query({"filter": clauses}).filter
    assert all(filt.matches(x) for x in inside)
    assert not any(filt.matches(x) for x in outside)
    lo, hi, excluded = filt.interval()
    assert 0 <= lo and hi <= MAX_UNITS + 1 and all(lo <= v < hi for v in excluded)
    assert parse_query({"filter": filt.to_json()}).filter == filt  # round trip


def test_columns_and_joined_filters_round_trip_and_name_the_inputs_they_need():
    spec = {"statistics": ["count", "mean", "correlation"], "column": "btc",
            "columns": ["balance", "btc"],
            "filter": [[">", "1"], ["balance", "<=", "100"], ["btc", "<", "5"]]}
    query = parse_query(spec, columns=["balance", "btc"])
    assert query.filter is not None and query.filter.clauses == ((">", "1"), ("<", "5"))
    assert [(c, f.clauses) for c, f in query.column_filters] == [("balance", (("<=", "100"),))]
    assert query.used_columns() == ["btc", "balance"]
    again = parse_query(query.to_json())
    assert again == query
    # only two-column statistics: the query's own column is not needed
    assert parse_query({"statistics": ["count", "covariance"],
                        "columns": ["btc", "balance"]}).used_columns() == ["btc", "balance"]
    assert parse_query(None).used_columns() == ["balance"]


def test_a_column_the_pool_lacks_is_refused_before_any_mpc():
    with pytest.raises(QueryError, match="unknown column 'eth'; this pool has: balance, btc"):
        parse_query({"column": "eth"}, columns=["balance", "btc"])
    with pytest.raises(QueryError, match="unknown column 'usdt'"):
        parse_query({"filter": [["usdt", ">", "1"]]}, columns=["balance", "btc"])
    with pytest.raises(QueryError, match="unknown column 'btc'"):
        parse_query({"statistics": ["covariance"], "columns": ["balance", "btc"]},
                    columns=["balance"])
