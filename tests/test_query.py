"""Query specs are validated before any MPC run."""

import pytest

from mpc_programs.query import QueryError, parse_query


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
