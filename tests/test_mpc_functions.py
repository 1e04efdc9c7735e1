"""The old system's statistics library, inside MPC: mode, geometric and harmonic mean, Gini,
and filters — 3 real party processes, checked against Python's ``statistics`` and numpy."""

import random
import statistics as pystats
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from mpcstats.benchmarks import local_pool
from mpc_programs.statistics import plaintext, results
from mpc_programs.shares.encoding import MAX_UNITS, SCALE
from mpc_programs.statistics.query import parse_query
from mpc_programs.runtime.runner import MPCRunError

EDGES = ["0.001", "0.5", "1", "1000"]
NEW = ["count", "mode", "geometric_mean", "harmonic_mean", "gini"]


def rel(got: str, want: float | Fraction) -> float:
    got_f, want_f = Fraction(Decimal(got)), Fraction(want)
    return float(abs(got_f - want_f) / abs(want_f)) if want_f else float(abs(got_f))


def eth(units: list[int]) -> list[Fraction]:
    return [Fraction(u, SCALE) for u in units]


def bucket_index(x: int, edges: list[int]) -> int:
    return sum(1 for e in edges if x >= e)


def gini_numpy(xs: list[int]) -> float:
    """Mean absolute difference / (2·mean): the textbook definition, independent of the sort."""
    a = np.array(xs, dtype=float)
    return float(np.abs(a[:, None] - a[None, :]).sum() / (2 * len(a) ** 2 * a.mean()))


def check_against_python(stats: dict, xs: list[int], edges: list[str]) -> None:
    """Every new statistic of ``stats`` against Python's statistics / numpy on ``xs``."""
    values = eth(xs)
    assert stats["count"] == len(xs)
    edge_units = [int(Decimal(e) * SCALE) for e in edges]
    modal = min(pystats.multimode([bucket_index(x, edge_units) for x in xs]))
    bounds = [None, *edges, None]
    assert stats["mode"]["bucket"] == [bounds[modal], bounds[modal + 1]]
    assert stats["mode"]["count"] == sum(1 for x in xs if bucket_index(x, edge_units) == modal)
    if min(xs) == 0:
        assert stats["harmonic_mean"] == "0" == str(pystats.harmonic_mean(values))
        assert stats["geometric_mean"] == "0"
    else:
        assert rel(stats["harmonic_mean"], pystats.harmonic_mean(values)) < 1e-6
        gm = pystats.geometric_mean([float(v) for v in values])
        assert rel(stats["geometric_mean"], Fraction(gm)) < 1e-6
    if sum(xs):
        assert abs(float(Decimal(stats["gini"])) - gini_numpy(xs)) < 1e-9
    else:
        assert stats["gini"] is None


def same_as_plaintext(got: dict, want: dict) -> None:
    """Equal, except the fixed-point means: within 1e-6 relative (they are ~1e-9 here)."""
    for name, value in want.items():
        if name in ("geometric_mean", "harmonic_mean") and value not in ("0", None):
            assert rel(got[name], Fraction(Decimal(value))) < 1e-8, name
        else:
            assert got[name] == value, name


def run(stores, workdir, spec: dict) -> dict:
    outcomes = local_pool.statistics(stores, parse_query(spec), workdir)
    return outcomes[0]["statistics"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("functions")
    rng = random.Random(10)
    values = [0, 0, 1, MAX_UNITS, 10**8, 10**8, 10**8, 10**11, 10**11, 5 * 10**7]  # ties, zeros
    while len(values) < 40:
        values.append(rng.choice([rng.randrange(10**5), rng.randrange(10**9),
                                  rng.randrange(10**13), rng.randrange(MAX_UNITS)]))
    rng.shuffle(values)
    units = {f"p{i:03d}": v for i, v in enumerate(values)}
    stores = local_pool.store_paths(workdir)
    local_pool.ingest(stores, local_pool.share_pool(units), workdir)
    return workdir, stores, list(units.values())


def test_new_functions_with_zeros_in_the_pool(pool):
    workdir, stores, xs = pool
    spec = {"statistics": NEW, "histogram_edges": EDGES}
    stats = run(stores, workdir, spec)
    check_against_python(stats, xs, EDGES)
    same_as_plaintext(stats, plaintext.statistics(parse_query(spec), xs))


def test_filtered_statistics_match_the_filtered_plaintext(pool):
    workdir, stores, xs = pool
    # positive balances except exactly 1 ETH: the means see no zero, ties remain
    spec = {"statistics": [*NEW, "sum", "mean", "variance", "median", "min", "max",
                           "quantiles", "histogram"],
            "quantiles": ["0.1", "0.9"], "histogram_edges": EDGES,
            "filter": [[">", "0"], ["!=", "1"]]}
    stats = run(stores, workdir, spec)
    kept = [x for x in xs if x > 0 and x != 10**8]
    check_against_python(stats, kept, EDGES)
    same_as_plaintext(stats, plaintext.statistics(parse_query(spec), xs))
    assert rel(stats["mean"], pystats.mean(eth(kept))) < 1e-45  # 50 significant digits
    assert Fraction(Decimal(stats["median"])) == pystats.median(eth(kept))
    assert rel(stats["variance"], pystats.variance(eth(kept))) < 1e-30


def test_filtered_mean_over_a_range(pool):
    workdir, stores, xs = pool
    spec = {"statistics": ["count", "mean", "histogram"], "histogram_edges": EDGES,
            "filter": [[">=", "0.00000001"], ["<", "1"]]}
    stats = run(stores, workdir, spec)
    kept = [x for x in xs if 1 <= x < 10**8]
    assert stats["count"] == len(kept)
    assert rel(stats["mean"], pystats.mean(eth(kept))) < 1e-45
    assert stats == plaintext.statistics(parse_query(spec), xs)


def test_a_filter_that_matches_nothing_gives_no_inputs(pool):
    workdir, stores, xs = pool
    assert 1234567891 not in xs
    for clauses in ([["==", "12.34567891"]], [[">", "5"], ["<", "1"]]):
        spec = {"statistics": ["count", "mean", "median", "gini"], "filter": clauses}
        stats = run(stores, workdir, spec)
        assert stats == {"count": 0, "mean": None, "median": None, "gini": None,
                         "no_inputs": results.NO_INPUTS}
        assert stats == plaintext.statistics(parse_query(spec), xs)


@pytest.mark.parametrize("values", [[250_000_000], [250_000_000, 1], [0, 7]])
def test_one_and_two_inputs(tmp_path, values):
    stores = local_pool.store_paths(tmp_path)
    units = {f"x{i}": v for i, v in enumerate(values)}
    local_pool.ingest(stores, local_pool.share_pool(units), tmp_path)
    spec = {"statistics": NEW, "histogram_edges": EDGES}
    stats = run(stores, tmp_path, spec)
    check_against_python(stats, values, EDGES)
    same_as_plaintext(stats, plaintext.statistics(parse_query(spec), values))
    if len(values) == 1:
        assert stats["gini"] == "0" and rel(stats["geometric_mean"], Fraction(5, 2)) < 1e-9


def test_gini_refuses_a_pool_above_its_limit_before_any_mpc(tmp_path):
    stores = local_pool.store_paths(tmp_path)
    limit = 5  # the job's own limit (default results.GINI_MAX_INPUTS)
    units = {f"g{i:05d}": i * 1000 for i in range(limit + 1)}
    local_pool.ingest(stores, local_pool.share_pool(units), tmp_path)
    with pytest.raises(MPCRunError, match=f"limited to {limit} inputs"):
        local_pool.statistics(stores, parse_query({"statistics": ["mean", "gini"]}), tmp_path,
                              timeout=120, gini_max_inputs=limit)
    # a subset within the limit is fine, and the other functions have no such limit
    subset = sorted(units)[:3]
    stats = local_pool.statistics(stores, parse_query({"statistics": ["gini"]}), tmp_path,
                                  input_ids=subset, gini_max_inputs=limit)[0]["statistics"]
    assert abs(float(Decimal(stats["gini"])) - gini_numpy([0, 1000, 2000])) < 1e-12


def test_gini_by_oblivious_radix_sort_over_hundreds_of_inputs(tmp_path):
    rng = random.Random(77)
    # heavy ties (a few distinct values), zeros, and the largest encodable balance
    values = [rng.choice([0, 1, 10**8, 10**8 + 1, 3 * 10**12, MAX_UNITS]) for _ in range(250)]
    values += [rng.randrange(MAX_UNITS) for _ in range(50)]
    units = {f"r{i:04d}": v for i, v in enumerate(values)}
    stores = local_pool.store_paths(tmp_path)
    local_pool.ingest(stores, local_pool.share_pool(units), tmp_path)
    for spec in ({"statistics": ["gini"]},
                 {"statistics": ["count", "gini"], "filter": [[">", "0.5"]]}):
        got = local_pool.statistics(stores, parse_query(spec), tmp_path)[0]["statistics"]
        assert got == plaintext.statistics(parse_query(spec), values), spec
        kept = [v for v in values if v > 5 * 10**7] if "filter" in spec else values
        assert abs(float(Decimal(got["gini"])) - gini_numpy(kept)) < 1e-12


def test_base4_digits_of_hex_one_hots_are_local_sums():
    from mpc_programs.statistics.secure_sort import quaternary_digits

    eye = np.eye(16, dtype=object)
    low, high = quaternary_digits([eye, eye[:, :]], top_max=15)[:2]
    for d in range(16):
        assert list(low[d]) == [int(e == d % 4) for e in range(4)]
        assert list(high[d]) == [int(e == d // 4) for e in range(4)]
    # the top hex digit (0 or 1 in the layout) gives one pass of two columns
    top = np.eye(16, dtype=object)[:2]
    out = quaternary_digits([eye, top], top_max=1)
    assert len(out) == 3 and out[-1].shape == (2, 2)
